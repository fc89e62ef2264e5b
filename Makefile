# The two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin
# the harness runs in the local deploy's environment (its generated secrets)
WITH_ENV := bash deploy/env.sh
export PSYCOPG_WAIT_FUNC := wait_selector
DEMO_ORGS ?= 500

.PHONY: up demo test lint bench-registry bench-sso bench-membership bench-cards bench-reports bench-quality down

up:            ## install what is missing, start PostgreSQL, RabbitMQ and the services
	bash deploy/up.sh

demo:          ## everything above, plus a demo union of $(DEMO_ORGS) organizations
	bash deploy/up.sh --demo $(DEMO_ORGS)

test:          ## the whole test suite against real PostgreSQL and RabbitMQ
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m pytest tests -q --durations=25

lint:
	$(VENV)/ruff check .

bench-registry: ## figures of the organization registry (issue 2); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.registry

bench-sso:     ## figures of single sign-on (issue 3); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.sso

down:
	bash deploy/down.sh

bench-membership: ## figures of members (issue 4, 19); BENCH_ARGS=--chair-only for the chair file check only; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.membership $(BENCH_ARGS)

bench-reports: ## figures of reports (issue 6); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.reports

bench-quality: ## figures of data quality (issue 7); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.quality

bench-cards:   ## figures of member cards and the vendor exchange (issue 8); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.cards

.PHONY: bench-notify
.PHONY: bench-mailing
bench-mailing:  ## figures of targeted mailing (issue 21): a million resolved and queued, send rate, duplicates after a kill; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.mailing

.PHONY: bench-ops
bench-ops:  ## figures of operations (issue 28): national backup and restore, archive lag, metrics overhead; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.ops $(ARGS)

bench-notify:  ## figures of e-mail (issue 18): invitations queued, delivery, fact to inbox; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.notify

.PHONY: bench-library
bench-library:  ## figures of the reference library (issue 24): search p95, gateway memory streaming 1 GB, 100 MB PDF indexed; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.library

.PHONY: bench-privacy
bench-privacy: ## figures of personal data's retention and a person's copy (issue 29); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.privacy

.PHONY: bench-security
bench-security: ## figures of trust inside the platform (issue 17); ARGS=--national adds the load test
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.security $(ARGS)

.PHONY: bench-portal national bench bench-national
bench-portal:  ## figures of the portal (issue 5), national data loaded; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -m tests.bench.portal

national:      ## the national data set: 75,000 organizations, 3.1 million members, cards, a year of reports
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.dataset

bench:         ## every benchmark (the national data set loaded first if missing); one table of all figures
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.dataset --if-missing
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.all $(ARGS)

bench-national: ## load test, scaling out, faults and fuzzing on the national data set (issue 9); last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.dataset --if-missing
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.national

.PHONY: bench-events
bench-events:  ## figures of events and meetings (issue 22): overbooking, registration and check-in times, protocol PDF, roll-up; last line is JSON
	bash deploy/up.sh --infra-only
	$(WITH_ENV) $(VENV)/python -u -m tests.bench.events $(ARGS)

"""Data-quality runs: the tree as it stood at each run, the faults found, per-region figures.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- one run of every check over the whole union; the last run of each quarter is kept
    CREATE TABLE reports.quality_run (
        id bigserial PRIMARY KEY,
        taken_at timestamptz NOT NULL DEFAULT now(),
        quarter date NOT NULL,
        taken_by text NOT NULL,
        seconds real
    );
    CREATE TABLE reports.quality_org (
        run_id bigint NOT NULL REFERENCES reports.quality_run (id) ON DELETE CASCADE,
        org_id bigint NOT NULL,
        parent_id bigint,
        path ltree NOT NULL,
        level text NOT NULL,
        region_id bigint,
        consolidator_id bigint,
        holder_id bigint NOT NULL,
        name text NOT NULL,
        registry_number text NOT NULL,
        has_chair boolean NOT NULL,
        has_term boolean NOT NULL,
        chair_has_email boolean NOT NULL,
        education_inn text,
        legal_entity boolean NOT NULL,
        territorial_rights boolean NOT NULL,
        PRIMARY KEY (run_id, org_id)
    );
    CREATE INDEX quality_org_path ON reports.quality_org USING gist (path);
    -- an organization at fault in one check; n: how many records (members, cards) or 1
    CREATE TABLE reports.quality_fault (
        run_id bigint NOT NULL REFERENCES reports.quality_run (id) ON DELETE CASCADE,
        check_code text NOT NULL,
        org_id bigint NOT NULL,
        region_id bigint,
        consolidator_id bigint,
        n integer NOT NULL,
        PRIMARY KEY (run_id, check_code, org_id)
    );
    CREATE INDEX quality_fault_region ON reports.quality_fault (run_id, region_id, check_code);
    -- members on record per region at the run (reconciliation and usage)
    CREATE TABLE reports.quality_region (
        run_id bigint NOT NULL REFERENCES reports.quality_run (id) ON DELETE CASCADE,
        region_id bigint NOT NULL,
        primaries integer NOT NULL,
        members integer NOT NULL,
        working integer NOT NULL,
        students integer NOT NULL,
        pensioners integer NOT NULL,
        category_not_given integer NOT NULL,
        joined_online integer NOT NULL,
        PRIMARY KEY (run_id, region_id)
    );
    """)

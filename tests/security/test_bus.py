"""The bus tried as a neighbour on the network would: raw AMQP messages to the real services,
with no identity, a claimed one, a forged, an expired, a misdirected and a replayed one. Each
is refused before any work and written to the service's audit log."""

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import text

from services.common import trust
from services.common.caller import Caller
from tests.conftest import AMQP
from tests.support.raw_bus import RawBus
from tests.support.waiting import wait_until

ADMIN = Caller(user="admin@test.reestr", roles=("central_admin",), subject="s-admin")


@pytest.fixture
def bus(services, clean):
    raw = RawBus(AMQP)
    yield raw
    raw.close()


def assertion(principal: str, audience: str, key: ECKey | None = None, **claims) -> str:
    now = int(time.time())
    body = {"iss": principal, "aud": audience, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}
    return jwt.encode({"alg": trust.ALG, "kid": principal}, body,
                      key or trust.signing_key(principal), algorithms=[trust.ALG])


def refused(reply: dict, code: str) -> None:
    assert reply["result"] is None, reply
    assert reply["error"]["exc_type"] == "Unauthenticated", reply
    assert code in reply["error"]["value"], reply


def refusals(engine, schema: str, action: str = "call_refused") -> list[tuple[str, str]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            f"SELECT record_id, actor_subject FROM {schema}.audit_log WHERE action = :a"),
            {"a": action})]


def test_a_call_with_no_identity_is_refused_and_audited(bus, engine):
    refused(bus.call("membership", "get_member", 1), "identity_missing")
    refused(bus.call("registry", "audit_log"), "identity_missing")
    assert wait_until(lambda: ("membership.get_member", "identity_missing")
                      in refusals(engine, "membership"))
    assert wait_until(lambda: ("registry.audit_log", "identity_missing")
                      in refusals(engine, "registry"))


def test_a_caller_written_into_the_headers_is_not_believed(bus):
    reply = bus.call("registry", "audit_log", headers={"nameko.caller": ADMIN.to_header()})
    refused(reply, "identity_missing")


def test_a_forged_signature_is_refused(bus):
    stranger = ECKey.generate_key("P-256", private=True)
    forged = assertion("gateway", "membership.get_member", stranger, usr=ADMIN.to_dict())
    refused(bus.call("membership", "get_member", 1, headers={trust.HEADER: forged}),
            "identity_forged")
    unknown = assertion("intruder", "membership.get_member", stranger)
    refused(bus.call("membership", "get_member", 1, headers={trust.HEADER: unknown}),
            "identity_forged")
    refused(bus.call("membership", "get_member", 1, headers={trust.HEADER: "not.a.token"}),
            "identity_forged")


def test_an_expired_assertion_is_refused(bus):
    old = int(time.time()) - 3600
    expired = assertion("gateway", "registry.audit_log", iat=old, exp=old + 60,
                        usr=ADMIN.to_dict())
    refused(bus.call("registry", "audit_log", headers={trust.HEADER: expired}),
            "identity_expired")


def test_an_assertion_for_another_call_or_a_second_time_is_refused(bus):
    for_health = assertion("gateway", "registry.health", usr=ADMIN.to_dict())
    refused(bus.call("registry", "audit_log", headers={trust.HEADER: for_health}),
            "identity_misdirected")
    good = assertion("gateway", "registry.health", usr=ADMIN.to_dict())
    assert bus.call("registry", "health", headers={trust.HEADER: good})["error"] is None
    refused(bus.call("registry", "health", headers={trust.HEADER: good}), "identity_replayed")


def test_the_operator_cannot_act_for_a_person(bus):
    posing = assertion("operator", "registry.audit_log", usr=ADMIN.to_dict())
    refused(bus.call("registry", "audit_log", headers={trust.HEADER: posing}),
            "identity_forged")


def test_a_verified_person_gets_only_their_rights(bus):
    """A correctly signed call for a chair runs, as the chair: the audit log is not theirs."""
    chair = Caller(user="chair@test.reestr", roles=("chair",), org_ids=(5,), subject="s-c")
    signed = assertion("gateway", "registry.audit_log", usr=chair.to_dict())
    reply = bus.call("registry", "audit_log", headers={trust.HEADER: signed})
    assert reply["error"]["exc_type"] == "Forbidden", reply
    auditor = Caller(user="auditor@test.reestr", roles=("auditor",), subject="s-a")
    signed = assertion("gateway", "registry.audit_log", usr=auditor.to_dict())
    assert isinstance(bus.call("registry", "audit_log",
                               headers={trust.HEADER: signed})["result"], list)


@pytest.mark.parametrize("service", ["registry", "membership", "cards", "notify", "library",
                                     "events"])
def test_only_the_council_s_retention_run_purges_an_audit_log(bus, service):
    """A chair or an auditor, correctly signed, is refused; the Central Council's run is not
    (and the database keeps a year whoever asks: tests/security/test_db_roles.py)."""
    for person in (Caller(user="chair@test.reestr", roles=("chair",), org_ids=(5,),
                          subject="s-c"),
                   Caller(user="auditor@test.reestr", roles=("auditor",), subject="s-a")):
        signed = assertion("gateway", f"{service}.purge_audit", usr=person.to_dict())
        reply = bus.call(service, "purge_audit", 3650, headers={trust.HEADER: signed})
        assert reply["error"]["exc_type"] == "Forbidden", reply


def test_forged_events_are_dropped_and_audited(bus, engine, rpc):
    """An org_created that registry did not sign changes no read model."""
    payload = {"event_id": str(uuid.uuid4()), "org_id": 999_999}
    bus.emit("registry", "org_created", payload)
    as_membership = assertion("membership", "registry.events", evt=payload["event_id"])
    bus.emit("registry", "org_created", payload, headers={trust.HEADER: as_membership})
    assert wait_until(lambda: len([r for r in refusals(engine, "membership", "event_refused")
                                   if r[0] == "registry.org_created"]) >= 2)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM membership.org")).scalar() == 0


def test_a_signed_event_cannot_be_bound_to_another_event(bus, engine):
    signed = assertion("registry", "registry.events", evt=str(uuid.uuid4()))
    bus.emit("registry", "org_created", {"event_id": str(uuid.uuid4()), "org_id": 1},
             headers={trust.HEADER: signed})
    assert wait_until(lambda: ("registry.org_created", "identity_misdirected")
                      in refusals(engine, "membership", "event_refused"))


def test_a_reply_the_broker_refuses_does_not_stop_the_service(bus, rpc):
    """A request naming a reply-to outside the service's grant: its reply is refused by the
    broker, the service drops the request and goes on answering."""
    good = assertion("operator", "registry.health")
    bus.send("registry", "health", headers={trust.HEADER: good}, reply_to="somebody.else")
    bus.send("registry", "health", reply_to="somebody.else")
    time.sleep(1)
    assert rpc.registry.health() == {"database": "ok"}


def test_the_platform_itself_still_works_through_signed_calls(rpc):
    assert rpc.registry.health() == {"database": "ok"}


def _refused(uri: str, act) -> bool:
    """Whether the broker refuses `act(channel)` for the login in `uri`."""
    from amqp.exceptions import AccessRefused, NotAllowed
    from kombu import Connection

    with Connection(uri, connect_timeout=5) as conn:
        try:
            act(conn.channel())
            conn.drain_events(timeout=0.5)
        except (AccessRefused, NotAllowed):
            return True
        except TimeoutError:
            return False
        return False


def test_each_service_reaches_only_its_own_on_the_broker(services, bus_users):
    """The cards service's login cannot read membership's calls, publish registry's events,
    bind a queue of its own to another service's calls, or call a service it does not call."""
    from amqp import Message
    from kombu import Exchange, Queue

    cards = bus_users["cards"]
    rpc_x = Exchange("nameko-rpc", type="topic", durable=True)

    def consume_membership_calls(ch):
        ch.basic_consume("rpc-membership", callback=lambda m: None)

    def publish_registry_event(ch):
        ch.basic_publish(Message(b"{}"), exchange="registry.events", routing_key="org_created")
        ch.basic_qos(0, 1, False)  # a round trip: the refusal closes the channel before it

    def bind_to_membership_calls(ch):
        q = Queue(f"rpc.reply-cards-{uuid.uuid4()}", exchange=rpc_x, routing_key="membership.*",
                  auto_delete=True)
        q(ch).declare()

    def call_sso(ch):
        ch.basic_publish(Message(b"{}"), exchange="nameko-rpc", routing_key="sso.health")
        ch.basic_qos(0, 1, False)

    def declare_own_queue(ch):
        q = Queue(f"rpc.reply-cards-{uuid.uuid4()}", exchange=rpc_x,
                  routing_key=str(uuid.uuid4()), auto_delete=True)
        q(ch).declare()

    assert _refused(cards, consume_membership_calls)
    assert _refused(cards, publish_registry_event)
    assert _refused(cards, bind_to_membership_calls)
    assert _refused(cards, call_sso)
    assert not _refused(cards, declare_own_queue), "what the service needs is allowed"
    assert _refused(bus_users["operator"], consume_membership_calls)

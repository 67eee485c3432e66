"""The notifier's HTTP API over the real ledger: deliveries (org-scoped, by
role), the development mailbox (JSON and the page for people), readiness."""
from __future__ import annotations

import psycopg
import pytest

from services.notifier import bootstrap
from services.notifier.adapters.dev_transport import DevTransport
from services.notifier.application.consume import ConsumeEvent
from services.notifier.application.send import Backoff, Sender
from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.http import create_app
from shared import auth
from tests.fakes.events import ORGANISATION, appointment_event
from tests.present import present

GLOBEX = dict(ORGANISATION, id="globex", name="Globex", email="desk@globex.example",
              phone="+15550000000")


@pytest.fixture
def world(infra, fresh_db, monkeypatch):
    """Two organisations' events consumed and sent through the development mailbox."""
    for name in ("SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(fresh_db, infra.kafka_bootstrap_servers)
    parts = bootstrap.wire(settings)
    pool, ledger = parts.pool, parts.ledger
    consume = ConsumeEvent(ledger)
    acme = appointment_event("confirm", appointment_id="appt-acme", resources=[],
                             client={"id": "c1", "name": "Ada <3", "email": "ada@example.com",
                                     "phone": None, "tentative": False})
    later = appointment_event("cancel", appointment_id="appt-acme", version=2, reason="Ill",
                              resources=[])
    globex = appointment_event("request", appointment_id="appt-globex", organisation=GLOBEX)
    for event in (acme, later, globex):
        consume(event)
    transports = parts.transports
    assert {type(t) for t in transports.values()} == {DevTransport}  # no credentials
    for transport in transports.values():
        sender = Sender(ledger, transport, Backoff(), 10)
        while sender.send_next():
            pass
    app = create_app(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers)
    yield app.test_client()
    pool.close()


def bearer(org="acme", roles=("agent",)):
    return {"Authorization": f"Bearer {auth.issue(org, list(roles))}"}


def test_deliveries_of_one_appointment_show_channel_recipient_state_attempts(world):
    response = world.get("/v1/deliveries?appointment_id=appt-acme", headers=bearer())
    assert response.status_code == 200
    got = {(d["channel"], d["recipient"], d["state"], d["attempts"], d["last_error"])
           for d in response.json["items"] if d["event_type"] == "appointment.confirmed.v1"}
    assert got == {("email", "ada@example.com", "sent", 1, None),
                   ("sms", None, "skipped", 0, "no sms address for the client"),
                   ("email", ORGANISATION["email"], "sent", 1, None),
                   ("sms", ORGANISATION["phone"], "sent", 1, None)}


def test_deliveries_filter_by_recipient(world):
    response = world.get("/v1/deliveries?recipient=ADA@example.com", headers=bearer(
        roles=["auditor"]))
    assert [(d["appointment_id"], d["template"]) for d in response.json["items"]] == [
        ("appt-acme", "client/confirmed"), ("appt-acme", "client/cancelled")]


def test_another_organisation_sees_none_of_them(world):
    response = world.get("/v1/deliveries?appointment_id=appt-acme",
                         headers=bearer("globex", ["manager"]))
    assert response.status_code == 200 and response.json == {"items": [], "next_cursor": None}
    mine = world.get("/v1/deliveries", headers=bearer("globex", ["manager"])).json["items"]
    assert {d["appointment_id"] for d in mine} == {"appt-globex"}


def test_only_agents_managers_and_auditors_read_deliveries(world):
    assert world.get("/v1/deliveries").status_code == 401
    denied = world.get("/v1/deliveries", headers=bearer(roles=["service"]))
    assert denied.status_code == 403 and denied.content_type == "application/problem+json"
    bad = world.get("/v1/deliveries?limit=0", headers=bearer())
    assert bad.status_code == 422 and "limit" in bad.json["errors"]


def test_the_mailbox_as_json_is_the_callers_organisations_newest_first(world):
    mail = world.get("/v1/mailbox", headers=bearer()).json["items"]
    assert {m["recipient"] for m in mail} == {"ada@example.com", "+441234567890",
                                              ORGANISATION["email"], ORGANISATION["phone"]}
    ids = [m["id"] for m in mail]
    assert ids == sorted(ids, reverse=True)
    assert world.get("/v1/mailbox").status_code == 401


def pages(client, path, **params):
    """Every row of a list, page by page (`limit` rows each), and how many pages."""
    rows, cursor, count = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, query_string=query, headers=bearer())
        assert answer.status_code == 200, answer.json
        assert set(answer.json) == {"items", "next_cursor"}
        rows += answer.json["items"]
        count += 1
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return rows, count


@pytest.mark.parametrize("path", ["/v1/deliveries", "/v1/mailbox"])
def test_lists_page_with_a_cursor_every_row_once_in_order(world, path):
    whole = world.get(path, headers=bearer()).json["items"]
    assert len(whole) >= 5
    paged, count = pages(world, path, limit=2)
    assert [r["id"] for r in paged] == [r["id"] for r in whole]    # each once, same order
    assert count == -(-len(whole) // 2)                          # no empty last page


def test_the_mailbox_pages_on_where_it_was_while_new_messages_arrive(world, fresh_db):
    """Newest first: a message arriving between two pages would shift an offset page;
    the cursor's page 2 starts after the last message shown."""
    whole = world.get("/v1/mailbox", headers=bearer()).json["items"]
    first = world.get("/v1/mailbox", query_string={"limit": 2}, headers=bearer()).json
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO mailbox (delivery_id, organisation_id, appointment_id, channel,"
                     " recipient, body_text) VALUES (0, 'acme', 'appt-new', 'sms', '+1', 'new')")
    second = world.get("/v1/mailbox", query_string={"limit": 2, "cursor": first["next_cursor"]},
                       headers=bearer()).json["items"]
    assert [m["id"] for m in first["items"] + second] == [m["id"] for m in whole[:4]]
    assert world.get("/v1/mailbox", headers=bearer()).json["items"][0]["appointment_id"] == \
        "appt-new"


@pytest.mark.parametrize("cursor", ["nonsense!", "WyJhIl0", "e30", "x" * 501])
def test_a_cursor_this_api_did_not_hand_out_is_422_naming_cursor(world, cursor):
    for path in ("/v1/deliveries", "/v1/mailbox", "/v1/reminders"):
        bad = world.get(path, query_string={"cursor": cursor}, headers=bearer())
        assert bad.status_code == 422 and bad.content_type == "application/problem+json"
        assert list(bad.json["errors"]) == ["cursor"], bad.json


def test_the_mailbox_page_shows_the_callers_organisations_messages_newest_first(world):
    page = world.get("/mailbox", headers=bearer())
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.index("Cancelled: Consultation") < html.index("Confirmed: Consultation")
    assert "appt-acme" in html and "appt-globex" not in html  # not globex's request
    assert "Ada &lt;3" in html and "Ada <3" not in html     # escaped
    # A browser sends no header: the token may come as ?access_token= (this page only)
    token = auth.issue("globex", ["auditor"])
    theirs = world.get(f"/mailbox?access_token={token}").get_data(as_text=True)
    assert "appt-globex" in theirs and "appt-acme" not in theirs
    assert world.get(f"/v1/mailbox?access_token={token}").status_code == 401


def test_the_mailbox_page_needs_a_token_of_a_person(world):
    assert world.get("/mailbox").status_code == 401
    assert world.get("/mailbox?access_token=forged").status_code == 401
    denied = world.get("/mailbox", headers=bearer(roles=["service"]))
    assert denied.status_code == 403 and denied.content_type == "application/problem+json"


def test_the_mailbox_exists_only_while_a_channel_has_no_provider(infra, fresh_db, provider_env):
    app = create_app(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers)
    client = app.test_client()
    assert client.get("/mailbox", headers=bearer()).status_code == 404
    assert client.get("/v1/mailbox", headers=bearer()).status_code == 404
    assert "/v1/mailbox" not in present(client.get("/openapi.json").json)["paths"]
    app.extensions["notifier.ledger"].pool.close()


def test_readiness_checks_the_database_and_kafka(world, infra, fresh_db):
    ready = world.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": True, "kafka": True,
                                                                 "dead_letters": True}
    no_kafka = create_app(database_url=fresh_db, bootstrap_servers="127.0.0.1:1")
    answer = no_kafka.test_client().get("/readyz")  # the API reads its ledger only
    assert answer.status_code == 200 and present(answer.json)["checks"]["kafka"] is False
    assert (present(answer.json)["status"], present(answer.json)["missing"]) == ("degraded", ["kafka"])
    spec = world.get("/openapi.json").json
    assert {"/v1/deliveries", "/v1/mailbox"} <= set(spec["paths"])

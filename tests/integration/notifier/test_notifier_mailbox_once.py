"""The development mailbox: the message and the ledger's 'sent' are one
transaction. The real worker process is held (by a trigger waiting on a lock
the test holds) after it wrote a message and before 'sent' is recorded, and is
SIGKILLed there: after a restart every delivery is in the mailbox exactly once."""
from __future__ import annotations

import os
import signal

import psycopg

from services.notifier import bootstrap
from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import rows, start_worker, wait_until
from tests.present import present

HOLD = 0x484F4C44  # "HOLD"
HOLD_SENT = f"""
CREATE FUNCTION hold_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock_shared({HOLD}); RETURN NEW; END $$;
CREATE TRIGGER hold_sent BEFORE UPDATE ON deliveries FOR EACH ROW
    WHEN (OLD.state = 'sending' AND NEW.state = 'sent') EXECUTE FUNCTION hold_sent();
"""


def held(conn: psycopg.Connection) -> int:
    """Senders waiting between their mailbox write and their 'sent'."""
    return present(conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
        " AND NOT granted AND database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())", (HOLD,)).fetchone())[0]


def test_a_sender_killed_between_mailbox_and_ledger_leaves_each_message_once(
        settings, publish, tmp_path):
    bootstrap.wire(settings).pool.close()  # the tables
    dev = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "TWILIO_"))}
    log = tmp_path / "notifier.log"
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(HOLD_SENT)
        admin.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
        publish(settings.topic, [appointment_event("cancel", reason="Doctor ill")])
        worker = start_worker(settings, dev, log)
        try:
            # Every sender that wrote a message is held before recording it sent
            wait_until(lambda: held(admin) >= 2, 30, "senders held before 'sent'")
            in_flight = {r["id"] for r in rows(settings.database_url, "state = 'sending'")}
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            admin.execute("SELECT pg_advisory_unlock(%s)", (HOLD,))
            # Restarted, the worker sends what was in flight again once the lease lapsed
            worker = start_worker(settings, dev, log)
            wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 4, 60,
                       "every delivery sent after the restart")
        finally:
            worker.kill()
            worker.wait(10)
        mailbox: dict[int, int] = dict(admin.execute(
            "SELECT delivery_id, count(*) FROM mailbox GROUP BY delivery_id").fetchall())
    deliveries = {r["id"] for r in rows(settings.database_url)}
    assert in_flight and in_flight <= deliveries
    assert mailbox == {d: 1 for d in deliveries}

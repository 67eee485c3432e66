"""shared.outage.Pool hands out no connection the server has ended, without a round
trip per checkout for the ones it has not."""
from __future__ import annotations

import psycopg

from shared.outage import Pool


def backend(pool: Pool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_the_server_ended_is_not_handed_to_a_request(fresh_db):
    pool = Pool(fresh_db, min_size=1, max_size=1, open=True)
    try:
        first = backend(pool)
        assert backend(pool) == first   # a working connection is kept
        with psycopg.connect(fresh_db, autocommit=True) as admin:   # as a restart would
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,)).fetchone()
        # The next request gets a working connection, not the error of the ended one
        assert backend(pool) != first
    finally:
        pool.close()


def test_checking_out_an_idle_connection_asks_the_server_nothing(fresh_db):
    pool = Pool(fresh_db, min_size=1, max_size=1, open=True)
    try:
        pid = backend(pool)
        with psycopg.connect(fresh_db, autocommit=True) as admin, pool.connection():
            row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s",
                                (pid,)).fetchone()
            assert row is not None
            # The connection's last statement is still the one that ended the last request
            assert row[0] == "COMMIT"
    finally:
        pool.close()

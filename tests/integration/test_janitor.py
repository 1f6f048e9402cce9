# SPDX-License-Identifier: MPL-2.0
"""The janitor deletes expired sessions and login failures that no longer
count, at start and then every few minutes; live rows stay."""

from test_auth import add_user, login


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


def test_prunes_expired_sessions_and_old_failures(kontaktd, ctl):
    d = kontaktd(config={"auth": {"login_failure_window": "15m"}})
    add_user(ctl, d, "agnete")
    assert login(d, "agnete").status_code == 200
    uid = sql(d, "SELECT id FROM users WHERE login = 'agnete'")[0][0]
    # 12,000 expired sessions: more than one batch of the janitor.
    sql(d, "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at,"
           " last_seen_at, expires_at)"
           " SELECT sha256(i::text::bytea), %s, repeat('x', 32), now() - interval '2 days',"
           "  now() - interval '2 days', now() - interval '1 day'"
           " FROM generate_series(1, 12000) i", (uid,))
    sql(d, "INSERT INTO login_failures (login, peer, at) VALUES"
           " ('old', '127.0.0.1', now() - interval '16 minutes'),"
           " ('new', '127.0.0.1', now() - interval '1 minute')")
    mark = d.log_mark()
    d.stop()
    d.start()
    d.wait_ready()
    d.wait_for_log(r"event=janitor sessions_deleted=12000 "
                   r"login_failures_deleted=1", start=mark)
    assert sql(d, "SELECT count(*) FROM sessions") == [(1,)]
    assert sql(d, "SELECT login FROM login_failures") == [("new",)]
    # The live session still works.
    assert login(d, "agnete").status_code == 200

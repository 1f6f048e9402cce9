# SPDX-License-Identifier: MPL-2.0
"""The IMAP worker fetches the next round while the database stores the
one before (ch_imap_int.h). When a round's transaction fails (an error, or
its connection lost), the rounds fetched after it are dropped and the
worker starts again from the committed position: against a real Dovecot,
every message of several rounds still becomes one contact, the position
ends at the last UID and every message is flagged."""

import re

import pytest

from imap_server import dovecot  # noqa: F401  (the fixture)
from test_imap import contacts, mail, mailbox, sql, wait_contacts  # noqa: F401
from utils import wait_until

N = 150
# In the second round of 64, so that a third is fetched meanwhile.
BAD = 100

FAILURES = {
    # Not a value the database refuses (22xxx/23xxx): the round fails.
    "error": "RAISE EXCEPTION 'injected failure';",
    "connection": "PERFORM pg_terminate_backend(pg_backend_pid()); "
                  "PERFORM pg_sleep(5);",
}


def append_all(dovecot, raws):  # noqa: F811
    uids = []
    with dovecot.client() as m:
        for raw in raws:
            raw = raw.encode().replace(b"\n", b"\r\n")
            typ, data = m.append("INBOX", None, None, raw)
            assert typ == "OK", data
            text = data[0].decode()
            uids.append(int(text.split("APPENDUID ", 1)[1].split()[1]
                            .rstrip("]")))
    return uids


def unseen(dovecot):  # noqa: F811
    with dovecot.client() as m:
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "UNSEEN")
        assert typ == "OK", data
        return data[0].split()


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failed_round_drops_the_rounds_fetched_after_it(
        kontaktd, dovecot, mailbox, failure):  # noqa: F811
    d = kontaktd(config=mailbox(intake={"thread_window": "0"},
                                mailbox={"poll_interval": "1s"}),
                 wait=True)
    # The round with the bad message fails twice, then goes through.
    sql(d, f"""
        CREATE SEQUENCE test_fail;
        CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.body LIKE '%FEJL-HER%'
               AND nextval('test_fail') <= 2 THEN
                {FAILURES[failure]}
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_fail BEFORE INSERT ON contacts
            FOR EACH ROW EXECUTE FUNCTION test_fail();
    """)
    d.stop()
    uids = append_all(dovecot, [
        mail(f"Besked {i}", "FEJL-HER\n" if i == BAD else f"Tekst {i}\n",
             sender=f"Borger {i} <b{i}@borger.example>",
             message_id=f"pipe{i}@borger.example")
        for i in range(N)])
    mark = d.log_mark()
    d.start()
    d.wait_ready()
    wait_contacts(d, N, timeout=90)
    d.wait_for_log(r"event=imap_error mailbox=main", start=mark)
    assert sql(d, "SELECT last_value FROM test_fail")[0][0] == 3
    rows = contacts(d)
    assert len(rows) == N
    assert sorted(r[5] for r in rows) == sorted(
        f"<pipe{i}@borger.example>" for i in range(N))
    assert sql(d, "SELECT count(*) FROM raw_messages")[0][0] == N
    assert sql(d, "SELECT last_uid FROM mailbox_state "
                  "WHERE name = 'main'")[0][0] == uids[-1]
    d.wait_for_log(rf"event=mail_ingested mailbox=main uid={uids[-1]} ")
    # Every message flagged, and logged as stored once.
    wait_until(lambda: not unseen(dovecot), 20, "every message \\Seen")
    log = d.log(mark)
    for u in uids:
        assert len(re.findall(rf"event=mail_ingested mailbox=main uid={u} ",
                              log)) == 1, u

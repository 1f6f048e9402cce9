# SPDX-License-Identifier: MPL-2.0
"""Two mailboxes whose rounds take the same citizens in opposite order,
against a real Dovecot: each round takes its intake locks up front in one
global order, so neither waits for the other in a cycle; no round is
aborted as a deadlock and retried, and every message is stored once."""

import re

import pytest

from imap_server import dovecot  # noqa: F401  (the fixture)
from test_imap import FROM, contacts, mail, sql, wait_contacts

SENDERS = 40


@pytest.fixture
def two_mailboxes(dovecot, tmp_path):  # noqa: F811
    pw = tmp_path / "imap.password"
    pw.write_text(dovecot.password + "\n")
    with dovecot.client() as m:
        m.create("Other")
    return {
        "mailbox:a": dovecot.mailbox_config(pw, poll_interval="1s"),
        "mailbox:b": dovecot.mailbox_config(pw, poll_interval="1s",
                                            folder="Other"),
        "smtp": {"from": FROM},
        "receipt": {"interval": "0"},
    }


def test_crossing_senders_do_not_deadlock(kontaktd, dovecot,  # noqa: F811
                                          two_mailboxes):
    d = kontaktd(config=two_mailboxes, wait=True)
    total = 0
    for wave in range(3):
        # Both folders filled while kontaktd is away, so that the two
        # workers' first rounds run at the same time: mailbox a gets the
        # senders in one order, b in the other, each message its own
        # Message-ID; and (wave > 0) the senders have open cases.
        d.stop()
        for i in range(SENDERS):
            j = SENDERS - 1 - i
            dovecot.append(mail(f"A {wave} {i}",
                                sender=f"Borger {i} <b{i}@borger.example>",
                                message_id=f"a{wave}.{i}@borger.example"))
            dovecot.append(mail(f"B {wave} {j}",
                                sender=f"Borger {j} <b{j}@borger.example>",
                                message_id=f"b{wave}.{j}@borger.example"),
                           folder="Other")
        total += 2 * SENDERS
        mark = d.log_mark()
        d.start()
        d.wait_ready()
        wait_contacts(d, total, timeout=60)
        log = d.log(mark)
        assert not re.search(r"deadlock|event=imap_error", log), \
            [x for x in log.splitlines() if "imap_error" in x]
    rows = contacts(d)
    assert len(rows) == total
    assert len({r[5] for r in rows}) == total
    # One case per sender: a sender's mail in both mailboxes threads onto
    # one case (the citizen lock), whichever came first.
    assert sql(d, "SELECT count(*) FROM cases")[0][0] == SENDERS
    assert "deadlock detected" not in d.cluster.log_text()

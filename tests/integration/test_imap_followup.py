# SPDX-License-Identifier: MPL-2.0
"""A citizen's e-mail to a case that is no longer being worked, through a
real Dovecot: threaded (subject tag, In-Reply-To, References) onto a case
resolved within [intake] reopen_within it reopens that case (open again,
a live event, an audit row by the mailbox, no new receipt); onto a closed
case, or one resolved longer ago, it opens a new case whose follow_up_of
names the old one (with a receipt, within the per-sender rate limit).
Automatic mail only joins the old case; merged cases still forward to the
case they were merged into."""

import time

import pytest

from imap_server import dovecot  # noqa: F401  (the fixture)
from test_auth import add_user
from test_case_actions import act
from test_cases import Client
from test_imap import FROM, case_of, mail, receipts, sql, wait_contacts
from utils import wait_until


@pytest.fixture
def setup(kontaktd, ctl, dovecot, tmp_path):  # noqa: F811
    pw = tmp_path / "imap.password"
    pw.write_text(dovecot.password + "\n")

    def start(intake=None, receipt=None):
        mb = dovecot.mailbox_config(pw, poll_interval="1s")
        cfg = {"mailbox:main": mb, "smtp": {"from": FROM},
               "intake": {"thread_window": "0", **(intake or {})},
               "receipt": {"municipality": "Testrup Kommune",
                           "interval": "0", **(receipt or {})}}
        d = kontaktd(config=cfg)
        add_user(ctl, d, "agnete")
        return d, Client(d, "agnete")
    return start


def first_case(d, dovecot, n=1, sender="Jens Hansen <jens@borger.example>"):  # noqa: F811
    """A new case from a first mail; returns (case id, reference, the
    Message-ID of its receipt)."""
    mid = f"first{n}@borger.example"
    dovecot.append(mail(f"Spørgsmål {n}", sender=sender, message_id=mid))
    wait_contacts(d, n)
    cid = case_of(d, f"<{mid}>")
    ref = sql(d, "SELECT reference FROM cases WHERE id = %s", (cid,))[0][0]
    wait_until(lambda: any(r[0] == cid for r in receipts(d)), 10,
               "the receipt")
    rmid = next(r[2] for r in receipts(d) if r[0] == cid)
    return cid, ref, rmid


def resolve(agent, cid):
    r = act(agent, cid, "resolve", {"resolution": "answered_later"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"


def get_case(agent, cid):
    r = agent.get(f"/api/v1/cases/{cid}")
    assert r.status_code == 200, r.text
    return r.json()


def test_reply_to_resolved_case_reopens_it(setup, dovecot):  # noqa: F811
    d, agent = setup()
    cid, ref, _ = first_case(d, dovecot)
    resolve(agent, cid)
    live_before = sql(d, "SELECT coalesce(max(id), 0) FROM live_events")[0][0]
    version = get_case(agent, cid)["version"]

    # The citizen answers with the tag kept in the subject.
    dovecot.append(mail(f"Re: Spørgsmål 1 [Sag {ref}]",
                        "Det hjalp ikke.\n", message_id="re1@borger.example"))
    wait_contacts(d, 2)
    assert case_of(d, "<re1@borger.example>") == cid
    c = get_case(agent, cid)
    assert c["status"] == "open"
    assert c["resolution"] is None and c["resolved_at"] is None
    assert c["follow_up_of"] is None
    assert c["version"] > version
    assert [ct["text"].strip() for ct in c["contacts"]
            if ct["direction"] == "in"][-1] == "Det hjalp ikke."
    # Audited as done by the system on the mailbox's behalf.
    rows = sql(d, "SELECT actor_user_id, actor_token_id, peer, detail "
                  "FROM audit_log WHERE case_id = %s AND action = 'update' "
                  "AND detail ? 'reopen'", (cid,))
    assert rows == [(None, None, "main",
                     {"reopen": "resolved", "by": "citizen_reply"})]
    # A live event shows the inbox the case open again.
    ev = sql(d, "SELECT type, payload->'case'->>'status' FROM live_events "
                "WHERE id > %s AND case_id = %s ORDER BY id", (live_before,
                                                                cid))
    assert ("case.updated", "open") in ev, ev
    # No second receipt for the same case.
    time.sleep(0.5)
    assert [r[0] for r in receipts(d)] == [cid]
    d.wait_for_log(rf"event=mail_ingested mailbox=main uid=\d+ contact=\d+ "
                   rf"case={ref} new_case=no .*receipt=no reopened=yes")


def test_reply_to_closed_case_opens_follow_up(setup, dovecot):  # noqa: F811
    d, agent = setup()
    cid, ref, receipt_mid = first_case(d, dovecot)
    resolve(agent, cid)
    # Closed: finished for good (as a case ends after a merge).
    sql(d, "UPDATE cases SET status = 'closed' WHERE id = %s", (cid,))
    before = sql(d, "SELECT status, resolution, version FROM cases "
                    "WHERE id = %s", (cid,))[0]

    # A reply to the receipt, by In-Reply-To, without the tag.
    dovecot.append(mail("Re: Kvittering", "Jeg skriver igen.\n",
                        message_id="again@borger.example",
                        headers=[f"In-Reply-To: {receipt_mid}"]))
    wait_contacts(d, 2)
    new = case_of(d, "<again@borger.example>")
    assert new != cid
    c = get_case(agent, new)
    assert c["follow_up_of"] == {"id": cid, "reference": ref}
    assert c["status"] == "new"
    assert c["citizen"]["email"] == "jens@borger.example"
    # The old case stays as it was.
    assert sql(d, "SELECT status, resolution, version FROM cases "
                  "WHERE id = %s", (cid,))[0] == before
    assert get_case(agent, cid)["follow_up_of"] is None
    # The follow-up is a new case: its sender gets a receipt, tagged
    # with the new reference.
    wait_until(lambda: [r[0] for r in receipts(d)] == [cid, new], 10,
               "the follow-up's receipt")
    subj = sql(d, "SELECT ct.subject FROM outbox o JOIN contacts ct "
                  "ON ct.id = o.contact_id WHERE o.kind = 'receipt' "
                  "AND ct.case_id = %s", (new,))[0][0]
    assert f"[Sag {c['reference']}]" in subj
    audit = sql(d, "SELECT detail FROM audit_log WHERE case_id = %s "
                   "AND action = 'create'", (new,))
    assert audit == [({"follow_up_of": ref},)]
    # The list shows the link too.
    r = agent.get("/api/v1/cases?limit=5")
    assert r.status_code == 200
    items = {x["id"]: x for x in r.json()["items"]}
    assert items[new]["follow_up_of"] == {"id": cid, "reference": ref}
    assert items[cid]["follow_up_of"] is None
    d.wait_for_log(rf"event=mail_ingested .*case={c['reference']} "
                   rf"new_case=yes .*receipt=queued follow_up_of={ref}")

    # A reply to the follow-up's receipt joins the follow-up.
    rmid = next(r[2] for r in receipts(d) if r[0] == new)
    dovecot.append(mail("Re: Kvittering", message_id="again2@borger.example",
                        headers=[f"References: <again@borger.example> "
                                 f"{rmid}"]))
    wait_contacts(d, 3)
    assert case_of(d, "<again2@borger.example>") == new


def test_long_resolved_case_gets_follow_up_with_rate_limit(setup, dovecot):  # noqa: F811
    # The default interval: one receipt per sender per hour.
    d, agent = setup(receipt={"interval": "1h"})
    cid, ref, _ = first_case(d, dovecot)
    resolve(agent, cid)
    # Resolved 40 days ago: past the default reopen_within (30 days).
    sql(d, "UPDATE cases SET resolved_at = now() - interval '40 days' "
           "WHERE id = %s", (cid,))
    dovecot.append(mail("Endnu et spørgsmål", message_id="late@borger.example",
                        headers=["References: <first1@borger.example>"]))
    wait_contacts(d, 2)
    new = case_of(d, "<late@borger.example>")
    assert new != cid
    assert get_case(agent, new)["follow_up_of"] == {"id": cid,
                                                    "reference": ref}
    assert get_case(agent, cid)["status"] == "resolved"
    # A receipt went to this sender within the hour: none now.
    d.wait_for_log(rf"event=mail_ingested .*new_case=yes .*"
                   rf"receipt=interval follow_up_of={ref}")
    assert [r[0] for r in receipts(d)] == [cid]


def test_reopen_within_zero_always_follows_up(setup, dovecot):  # noqa: F811
    d, agent = setup(intake={"reopen_within": "0"})
    cid, ref, _ = first_case(d, dovecot)
    resolve(agent, cid)
    dovecot.append(mail(f"Re: [Sag {ref}]", message_id="z@borger.example"))
    wait_contacts(d, 2)
    new = case_of(d, "<z@borger.example>")
    assert new != cid
    assert get_case(agent, new)["follow_up_of"]["id"] == cid
    assert get_case(agent, cid)["status"] == "resolved"


def test_automatic_reply_only_joins_the_finished_case(setup, dovecot):  # noqa: F811
    d, agent = setup()
    cid, ref, receipt_mid = first_case(d, dovecot)
    resolve(agent, cid)
    dovecot.append(mail(f"Fraværsbesked: [Sag {ref}]",
                        message_id="ooo@borger.example",
                        headers=["Auto-Submitted: auto-replied",
                                 f"In-Reply-To: {receipt_mid}"]))
    wait_contacts(d, 2)
    assert case_of(d, "<ooo@borger.example>") == cid
    c = get_case(agent, cid)
    assert c["status"] == "resolved" and c["resolution"] == "answered_later"
    assert sql(d, "SELECT count(*) FROM cases")[0][0] == 1


def test_merged_case_still_forwards_to_the_kept_case(setup, dovecot):  # noqa: F811
    d, agent = setup()
    keep, keep_ref, _ = first_case(d, dovecot, 1)
    dup, dup_ref, _ = first_case(d, dovecot, 2,
                                 sender="Jens <jens.h@andet.example>")
    r = act(agent, dup, "merge", {"into": keep})
    assert r.status_code == 200, r.text
    # The kept case is still worked: a reply to the merged one joins it.
    dovecot.append(mail(f"Re: [Sag {dup_ref}]", message_id="m1@borger.example"))
    wait_contacts(d, 3)
    assert case_of(d, "<m1@borger.example>") == keep
    assert get_case(agent, keep)["status"] == "new"
    # Once resolved, a reply to the merged case reopens the kept one; the
    # merged case stays closed and no follow-up is opened.
    resolve(agent, keep)
    dovecot.append(mail(f"Re: [Sag {dup_ref}]", message_id="m2@borger.example"))
    wait_contacts(d, 4)
    assert case_of(d, "<m2@borger.example>") == keep
    assert get_case(agent, keep)["status"] == "open"
    assert get_case(agent, dup)["status"] == "closed"
    assert sql(d, "SELECT count(*) FROM cases")[0][0] == 2


def test_bad_reopen_within(write_config, kontaktd_cmd):
    path = write_config({"intake": {"reopen_within": "30d"}})
    p = kontaktd_cmd("--config", str(path), "--check-config")
    assert p.returncode != 0
    assert "reopen_within" in p.stderr + p.stdout, p.stderr

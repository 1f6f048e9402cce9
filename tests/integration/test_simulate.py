# SPDX-License-Identifier: MPL-2.0
"""A simulated day at the switchboard (tools/simulate, from the seed's
figures) posted to kontaktd out of order and with repeats: the calls
kontaktd derives must be the ones that were generated, call by call, and
so must the figures the seed's consultants tabulated by hand (calls per
outcome, mean wait and talk)."""

import json
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from test_auth import new_token
from test_metrics import scrape

REPO = Path(__file__).resolve().parents[2]
SIMULATE = REPO / "tools" / "simulate"


def simulate(*args, timeout=60):
    return subprocess.run(["/usr/bin/python3", str(SIMULATE), *args],
                          capture_output=True, text=True, timeout=timeout)


def generate(tmp_path, name, *args):
    events, expected = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
    p = simulate("--events", str(events), "--expected", str(expected), *args)
    assert p.returncode == 0, p.stderr
    return events, json.loads(expected.read_text())


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd()
    return d, new_token(ctl, d, "pbx", "cti:write")


def check_calls(d, exp):
    """kontaktd's calls against the generated ones."""
    t = exp["totals"]
    assert dict(sql(d, "SELECT outcome, count(*) FROM calls"
                       " GROUP BY outcome")) == t["by_outcome"]
    # The seed's table: the mean wait and talk (to the second, and in fact
    # to the millisecond the generator rounds them to).
    wait, talk = sql(d, "SELECT avg(wait_ms) / 1000.0, avg(talk_ms) / 1000.0"
                        " FROM calls")[0]
    assert abs(float(wait) - t["mean_wait_s"]) <= 0.0005, (wait, t)
    assert abs(float(talk) - t["mean_talk_s"]) <= 0.0005, (talk, t)
    # And every call, to the millisecond.
    got = {r[0]: r[1:] for r in sql(
        d, "SELECT call_id, state, outcome, wait_ms, talk_ms, answered_by,"
           " transferred_to, from_number, to_char(offered_at AT TIME ZONE"
           " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM calls")}
    want = {c["call_id"]: ("ended", c["outcome"], c["wait_ms"], c["talk_ms"],
                           c["answered_by"], c["transferred_to"], c["from"],
                           c["offered_at"])
            for c in exp["calls"]}
    assert len(got) == len(want) == t["calls"]
    bad = [(k, got.get(k), v) for k, v in want.items() if got.get(k) != v]
    assert not bad, f"{len(bad)} calls differ, e.g. {bad[:3]}"
    assert sql(d, "SELECT (SELECT count(*) FROM call_events),"
                  " (SELECT count(*) FROM contacts WHERE channel = 'phone')"
               )[0] == (t["events"], t["calls"])


def test_a_day_out_of_order_with_repeats(env, tmp_path):
    d, token = env
    opts = ("--seed", "4", "--shuffle-window", "200", "--duplicates", "0.05")
    events, exp = generate(tmp_path, "day", *opts)
    t = exp["totals"]
    # A realistic day: around the seed's 414 calls a working day, with the
    # seed's shares, and repeats in the delivery.
    assert 300 < t["calls"] < 600, t
    assert t["by_category"]["abandoned"] == round(0.07 * t["calls"])
    assert t["repeats_sent"] > 0 and t["repeat_calls"] > 0
    assert t["events_sent"] == t["events"] + t["repeats_sent"]
    # Deterministic: the same options, the same bytes.
    events2, exp2 = generate(tmp_path, "again", *opts)
    assert events.read_bytes() == events2.read_bytes() and exp == exp2

    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert len(lines) == t["events_sent"]
    hdr = {"Authorization": "Bearer " + token}
    status = {"stored": 0, "duplicate": 0}
    for i in range(0, len(lines), 250):
        r = d.request("POST", "/api/v1/cti/events", json=lines[i:i + 250],
                      headers=hdr)
        assert r.status_code == 200, r.text
        for x in r.json()["results"]:
            status[x["status"]] += 1
    assert status == {"stored": t["events"], "duplicate": t["repeats_sent"]}
    check_calls(d, exp)
    # Every call of a number threads onto that number's case; a withheld
    # number opens a case of its own.
    assert sql(d, "SELECT count(*) FROM cases")[0][0] == \
        t["cases_if_threaded"]
    # Each batch was taken in whole, not one event at a time after a
    # failure (which would give the same tables).
    assert "event=cti_batch_one_by_one" not in d.log()


def what_kontaktd_made(d):
    """The calls, cases and live events of a day, by the phone system's
    call ids and in comparable form."""
    calls = sql(d, "SELECT c.call_id, c.state, c.outcome, c.wait_ms,"
                   " c.talk_ms, c.answered_by, c.transferred_to, c.transfers,"
                   " c.returns, c.diversions, c.callback_requested,"
                   " c.end_cause, c.offered_at, c.queued_at, c.answered_at,"
                   " c.ended_at, ca.citizen_phone, ca.status,"
                   " (SELECT array_agg(c2.call_id ORDER BY c2.call_id)"
                   "  FROM calls c2 JOIN contacts t2 ON t2.id = c2.contact_id"
                   "  WHERE t2.case_id = ca.id)"
                   " FROM calls c JOIN contacts ct ON ct.id = c.contact_id"
                   " JOIN cases ca ON ca.id = ct.case_id ORDER BY 1")
    events = sql(d, "SELECT c.call_id, e.event, e.at, e.agent, e.target"
                    " FROM call_events e JOIN calls c ON c.id = e.call_id"
                    " ORDER BY 1, 2, 3, 4, 5")
    # Per call, its live events in order, each with the call as the event
    # left it.
    live = sql(d, "SELECT l.payload->'call'->>'call_id', l.type,"
                  " (l.payload->'call') - 'call_id'::text"
                  " FROM live_events l WHERE l.call_id IS NOT NULL"
                  " ORDER BY 1, l.id")
    cases = sql(d, "SELECT count(*), count(*) FILTER (WHERE merged_into_id"
                   " IS NOT NULL) FROM cases")
    # And each case's own events (a batch writes some at its end).
    case_live = sql(d, "SELECT c.reference, l.type, count(*)"
                       " FROM live_events l JOIN cases c ON c.id = l.case_id"
                       " WHERE l.call_id IS NULL GROUP BY 1, 2 ORDER BY 1, 2")
    return calls, events, live, cases, case_live


def test_batches_make_what_single_events_make(kontaktd, ctl, tmp_path):
    """The same day, out of order and with repeats, sent event by event to
    one kontaktd and in batches of 40 to another: the same calls (state,
    figures, case), events and live events, call by call."""
    events, exp = generate(tmp_path, "day", "--seed", "7", "--calls", "120",
                           "--shuffle-window", "60", "--duplicates", "0.1")
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    one, many = kontaktd(), kontaktd()
    for d, size in ((one, 1), (many, 40)):
        hdr = {"Authorization": "Bearer " +
               new_token(ctl, d, "pbx", "cti:write")}
        for i in range(0, len(lines), size):
            body = lines[i] if size == 1 else lines[i:i + size]
            r = d.request("POST", "/api/v1/cti/events", json=body,
                          headers=hdr)
            assert r.status_code in (200, 201), r.text
    check_calls(many, exp)
    assert "event=cti_batch_one_by_one" not in many.log()
    a, b = what_kontaktd_made(one), what_kontaktd_made(many)
    names = ("calls", "events", "live events", "cases", "case events")
    for name, x, y in zip(names, a, b):
        assert x == y, name


def test_concurrent_single_events_make_the_day(kontaktd, ctl, tmp_path):
    """A day, out of order and with repeats, as single events from eight
    connections at once to a kontaktd with eight HTTP threads: events that
    meet are taken in together (group commit), and the day's calls come
    out as generated."""
    events, exp = generate(tmp_path, "conc", "--seed", "5", "--calls", "120",
                           "--shuffle-window", "60", "--duplicates", "0.1")
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    d = kontaktd(config={"server": {"threads": "8"},
                         "database": {"pool_size": "10"}})
    hdr = {"Authorization": "Bearer " +
           new_token(ctl, d, "pbx", "cti:write")}
    failures = []

    def send(part):
        with requests.Session() as s:
            for body in part:
                r = s.post(d.url("/api/v1/cti/events"), json=body,
                           headers=hdr, timeout=30)
                if r.status_code not in (200, 201):
                    failures.append(r.text)

    threads = [threading.Thread(target=send, args=(lines[k::8],))
               for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    check_calls(d, exp)
    m = scrape(d)
    assert m['kontaktd_cti_group_events_total{result="grouped"}'] == \
        len(lines)
    assert m["kontaktd_cti_group_waiting"] == 0


def test_simulate_posts_to_kontaktd(env, tmp_path):
    """The tool's own poster: parallel batches, shuffled, repeated; it
    checks kontaktd's answers itself and says what it sent."""
    d, token = env
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    events, exp = generate(
        tmp_path, "posted", "--seed", "11", "--calls", "150",
        "--shuffle-window", "40", "--duplicates", "0.1", "--url",
        d.base_url, "--token-file", str(tf), "--batch", "37",
        "--parallel", "3")
    assert exp["totals"]["calls"] == 150
    check_calls(d, exp)


def test_days_and_caps(tmp_path):
    """Working days only; --calls caps the whole run."""
    _, exp = generate(tmp_path, "days", "--date", "2026-06-05", "--days",
                      "3")
    assert [x["date"] for x in exp["days"]] == \
        ["2026-06-05", "2026-06-08", "2026-06-09"]
    # Fridays close at 13:00 (11:00 UTC in summer), other days at 15:00.
    last = {}
    for c in exp["calls"]:
        day = c["offered_at"][:10]
        last[day] = max(last.get(day, ""), c["offered_at"][11:])
        assert c["offered_at"][11:] >= "06:00"
    assert last["2026-06-05"] < "11:00" and "12:00" < last["2026-06-08"]
    _, exp = generate(tmp_path, "capped", "--date", "2026-06-05", "--days",
                      "3", "--calls", "500")
    assert exp["totals"]["calls"] == 500
    assert len(exp["days"]) == 2  # a Friday's calls, then the rest


@pytest.mark.parametrize("args", [
    ("--days", "0"), ("--days", "367"), ("--calls", "0"),
    ("--calls", "500001"), ("--batch", "1001"), ("--duplicates", "1.5"),
    ("--date", "2026-02-30"), ("--url", "http://127.0.0.1:1"),
])
def test_bounds(args):
    p = simulate("--events", "none", *args)
    assert p.returncode == 64, p.stderr
    assert p.stderr.startswith("tools/simulate: ")

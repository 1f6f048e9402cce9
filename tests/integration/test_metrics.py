# SPDX-License-Identifier: MPL-2.0
"""GET /metrics: Prometheus text format, counters that follow the traffic,
and the pool's view of a PostgreSQL restart."""

import re
import time

from utils import package_version, wait_until

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf)$')


def scrape(d):
    r = d.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = {}
    typed = set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labels = m.group(1), m.group(2) or ""
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"{name} has no # TYPE line"
        values[name + labels] = float(m.group(3))
    return values


def test_metrics_format_and_build_info(kontaktd):
    d = kontaktd()
    v = scrape(d)
    assert v[f'kontaktd_build_info{{version="{package_version()}"}}'] == 1
    assert abs(v["kontaktd_start_time_seconds"] - time.time()) < 600
    assert v["kontaktd_db_up"] == 1
    # The scrape itself is in flight while the body is built.
    assert v["kontaktd_http_requests_in_flight"] == 1


def test_request_counters_follow_traffic(kontaktd):
    d = kontaktd()
    before = scrape(d)
    for _ in range(3):
        assert d.get("/healthz").status_code == 200
    for _ in range(2):
        assert d.get("/api/v1/nothing-here").status_code == 404
    key2, key4 = ('kontaktd_http_requests_total{code="2xx"}',
                  'kontaktd_http_requests_total{code="4xx"}')
    # A request is counted once its answer has gone out, which the client
    # can see before that (another worker thread may answer the next
    # request first): each scrape shows every request before it, its own
    # excepted, once they have all been counted; never more.
    scrapes = 1  # before

    def settled():
        nonlocal scrapes
        m = scrape(d)
        got2, got4 = m[key2] - before[key2], m[key4] - before[key4]
        want2 = 3 + scrapes
        scrapes += 1
        assert got2 <= want2 and got4 <= 2, (got2, want2, got4)
        return m if (got2, got4) == (want2, 2) else None
    after = wait_until(settled, 10, "the requests counted")
    count = after["kontaktd_http_request_duration_seconds_count"]
    assert after['kontaktd_http_request_duration_seconds_bucket{le="+Inf"}'] \
        == count
    buckets = [val for k, val in after.items()
               if k.startswith("kontaktd_http_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets), "histogram buckets must be cumulative"


def test_pool_metrics_after_a_postgresql_restart(kontaktd, pg_factory,
                                                 create_db):
    cluster = pg_factory()
    db = create_db(cluster=cluster)
    d = kontaktd(cluster=cluster, db=db,
                 allowed_errors=[r"event=db_down", r"event=internal_error"])
    assert d.get("/readyz").status_code == 200
    # A request gives its connection back when libmicrohttpd reports it
    # complete, which may come just after the client has read the answer.
    def pool_idle():
        m = scrape(d)
        in_use = m['kontaktd_db_pool_connections{state="in_use"}']
        # The scrape's own request holds no connection.
        return m if in_use == 0 else None
    v = wait_until(pool_idle, 5, "the pool to have no connection in use")
    assert v['kontaktd_db_pool_connections{state="idle"}'] >= 1
    assert v["kontaktd_db_reconnects_total"] == 0

    cluster.stop()
    deadline = time.monotonic() + 15
    while d.get("/readyz").status_code != 503:
        assert time.monotonic() < deadline, "readyz never turned 503"
        time.sleep(0.1)
    assert scrape(d)["kontaktd_db_up"] == 0

    cluster.start()
    deadline = time.monotonic() + 20
    while d.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "readyz never turned 200"
        time.sleep(0.1)
    v = scrape(d)
    assert v["kontaktd_db_up"] == 1
    assert v["kontaktd_db_reconnects_total"] >= 1

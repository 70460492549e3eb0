"""The benchmark harness's own logic: reading wrk, judging goals, the table, the seed.

No timings are asserted here; the wrk outputs below were captured from real
runs (a Storehouse server under ``make bench`` and a small local server that
answers 404 or sleeps).
"""
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bench import seed
from bench.cases import CASES, Case, Goal, Measurement, evaluate, is_compared_by_ratio, is_uneven, select_cases
from bench.report import render_table
from bench.servers import count_open_connections
from bench.wrk import WrkError, lua_script, parse_output

HANDSHAKE = """\
Running 3s test @ http://127.0.0.1:39183/api/v1/handshake/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    18.29ms   18.24ms 143.85ms   85.76%
    Req/Sec     1.11k   618.42     2.47k    73.33%
  Latency Distribution
     50%   11.94ms
     75%   26.49ms
     90%   43.98ms
     99%   81.09ms
  3399 requests in 3.09s, 736.89KB read
Requests/sec:   1101.66
Transfer/sec:    238.84KB
"""

# Latencies in seconds, with the trailing blank wrk prints after an "s".
STORES_API = """\
Running 3s test @ http://127.0.0.1:38327/api/v1/stores/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.55s   330.18ms   1.81s    75.00%
    Req/Sec     6.40      8.08    19.00     80.00%
  Latency Distribution
     50%    1.78s 
     75%    1.80s 
     90%    1.81s 
     99%    1.81s 
  8 requests in 3.09s, 24.40MB read
Requests/sec:      2.59
Transfer/sec:      7.91MB
"""

NOT_FOUND = """\
Running 2s test @ http://127.0.0.1:8765/missing
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    44.01ms    6.40ms  58.15ms   95.56%
    Req/Sec    89.75     17.82   121.00     75.00%
  Latency Distribution
     50%   43.98ms
     75%   44.04ms
     90%   47.98ms
     99%   57.85ms
  180 requests in 2.01s, 39.14KB read
  Non-2xx or 3xx responses: 180
Requests/sec:     89.60
Transfer/sec:     19.48KB
"""

TIMED_OUT = """\
Running 5s test @ http://127.0.0.1:8765/slow
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00    100.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  4 requests in 5.05s, 852.00B read
  Socket errors: connect 0, read 0, write 0, timeout 4
Requests/sec:      0.79
Transfer/sec:     168.63B
"""

NOTHING_FINISHED = """\
Running 3s test @ http://127.0.0.1:37189/admin/stores/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 3.06s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""


# --- reading wrk ---------------------------------------------------------------------

def test_parse_reads_rate_percentiles_and_bytes():
    result = parse_output(HANDSHAKE)
    assert result.requests == 3399
    assert result.duration_s == pytest.approx(3.09)
    assert result.requests_per_s == pytest.approx(1101.66)
    assert result.percentiles_ms == pytest.approx({50: 11.94, 75: 26.49, 90: 43.98, 99: 81.09})
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(11.94), pytest.approx(81.09))
    assert result.bytes_read == round(736.89 * 1024)
    assert result.error_responses == 0 and result.socket_error_count == 0


def test_parse_converts_seconds_and_megabytes():
    result = parse_output(STORES_API)
    assert result.p50_ms == pytest.approx(1780)
    assert result.p99_ms == pytest.approx(1810)
    assert result.bytes_read == round(24.40 * 1024 * 1024)
    assert result.requests == 8


def test_parse_counts_error_responses():
    result = parse_output(NOT_FOUND)
    assert result.error_responses == 180
    assert result.requests == 180


def test_parse_counts_socket_errors():
    result = parse_output(TIMED_OUT)
    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 4}
    assert result.socket_error_count == 4
    assert result.requests_per_s == pytest.approx(0.79)


def test_parse_accepts_a_run_where_nothing_finished():
    result = parse_output(NOTHING_FINISHED)
    assert result.requests == 0
    assert result.requests_per_s == 0


@pytest.mark.parametrize("text", ["unable to connect to 127.0.0.1:8766 Connection refused\n",
                                  "Usage: wrk <options> <url>\n", ""])
def test_parse_refuses_output_without_a_summary(text):
    with pytest.raises(WrkError, match="cannot read wrk's output"):
        parse_output(text)


def test_parse_requires_the_latency_distribution():
    without = "\n".join(line for line in HANDSHAKE.splitlines()
                        if not re.match(r"\s+(\d+%|Latency Distribution)", line))
    assert "Latency Distribution" not in without and "requests in" in without
    with pytest.raises(WrkError, match="--latency"):
        parse_output(without)


def test_lua_script_sets_headers_with_quotes_escaped():
    script = lua_script({"Authorization": 'Token a"b\\c'})
    assert 'wrk.headers["Authorization"] = "Token a\\"b\\\\c"' in script
    assert script.startswith('wrk.method = "GET"')


# --- judging goals ---------------------------------------------------------------------

BASELINE = Case("base", "base", "/", is_baseline=True)
RATIO_CASE = Case("me", "me", "/me", "member", Goal(min_ratio=0.6))
LATENCY_CASE = Case("page", "`/s/{small}/`", "/s/{small}/", "member", Goal(max_p99_ms=50, max_bytes=1000))


def loaded(case, rps=100.0, p99=10.0, body=100, **fields):
    return Measurement(case, probe_ms=5.0, requests=1000, requests_per_s=rps, p50_ms=p99 / 2, p99_ms=p99,
                       body_bytes=body, **fields)


def test_ratio_goal_is_judged_against_the_baseline():
    baseline = loaded(BASELINE, rps=1000)
    assert evaluate(loaded(RATIO_CASE, rps=600), baseline).met is True
    missed = evaluate(loaded(RATIO_CASE, rps=250), baseline)
    assert missed.met is False
    assert missed.text == "MISSED: 0.25× < 0.6×"


def test_ratio_goal_without_a_usable_baseline_is_not_judged():
    assert evaluate(loaded(RATIO_CASE), None).met is None
    failed_baseline = loaded(BASELINE, error_responses=3)
    assert evaluate(loaded(RATIO_CASE), failed_baseline).text == "? no baseline"


def test_latency_and_size_goals():
    assert evaluate(loaded(LATENCY_CASE, p99=49.0, body=1000)).text == "met"
    verdict = evaluate(loaded(LATENCY_CASE, p99=2100.0, body=5000))
    assert verdict.met is False
    assert "p99 2,100 ms > 50 ms" in verdict.text and "5,000 B > 1,000 B" in verdict.text


def test_errors_fail_a_case_however_fast_it_was():
    verdict = evaluate(loaded(LATENCY_CASE, p99=1.0, error_responses=180))
    assert verdict.met is False
    assert verdict.text == "FAILED: 180 error responses (4xx/5xx)"
    assert evaluate(loaded(LATENCY_CASE, socket_errors=4)).text.startswith("FAILED: 4 socket errors")
    assert evaluate(Measurement(LATENCY_CASE, error="probe answered 302 -> /auth/login")).text == \
        "FAILED: probe answered 302 -> /auth/login"


def test_a_run_where_nothing_finished_misses_its_latency_goal():
    measurement = Measurement(LATENCY_CASE, probe_ms=1894.0, requests=0, body_bytes=100)
    verdict = evaluate(measurement)
    assert verdict.met is False
    assert "no response finished within the run (probe 1,894 ms)" in verdict.text


def test_a_case_not_loaded_misses_time_goals_but_is_still_judged_on_size():
    skipped = Measurement(LATENCY_CASE, probe_ms=11767.0, body_bytes=8_000_000, skipped="too slow: not loaded")
    verdict = evaluate(skipped)
    assert verdict.text.startswith("MISSED: too slow: not loaded; 7.6 MiB > 1,000 B")
    size_only = Case("stores", "stores", "/stores", "member", Goal(max_bytes=1000))
    assert evaluate(Measurement(size_only, body_bytes=900, skipped="too slow")).text == "met (not loaded)"
    assert evaluate(Measurement(size_only, body_bytes=3000, skipped="too slow")).met is False


def test_memory_goal_uses_the_peak_during_the_case():
    case = Case("users", "users", "/admin/users/", "admin", Goal(max_rss_growth_mib=64))
    flat = loaded(case, rss_before_kib=100 * 1024, rss_peak_kib=150 * 1024, rss_after_kib=120 * 1024)
    assert evaluate(flat).met is True
    grown = loaded(case, rss_before_kib=100 * 1024, rss_peak_kib=500 * 1024, rss_after_kib=120 * 1024)
    assert evaluate(grown).text == "MISSED: RSS +400 MiB > 64 MiB"


def test_the_baseline_has_no_goal():
    assert evaluate(loaded(BASELINE)).text == "—"


def test_a_run_on_one_worker_is_uneven():
    assert is_uneven([1.7, 0.0])
    assert is_uneven([2.8, 0.3])
    assert not is_uneven([1.5, 1.3])
    assert not is_uneven([0.1, 0.0]), "too little work to tell"
    assert not is_uneven([2.0]), "one worker configured"


def test_the_baseline_and_ratio_cases_are_the_ones_compared_by_ratio():
    assert is_compared_by_ratio(BASELINE) and is_compared_by_ratio(RATIO_CASE)
    assert not is_compared_by_ratio(LATENCY_CASE)


# --- choosing cases ---------------------------------------------------------------------

def test_only_brings_the_baseline_along_for_ratio_goals():
    assert [c.name for c in select_cases(CASES, only=["me-token"])] == ["handshake", "me-token"]
    assert [c.name for c in select_cases(CASES, only=["admin-users"])] == ["admin-users"]


def test_only_refuses_unknown_cases():
    with pytest.raises(ValueError, match="no case nope"):
        select_cases(CASES, only=["nope"])


def test_quick_takes_the_cases_marked_quick():
    cases = [Case("a", "a", "/a", quick=True), Case("b", "b", "/b", quick=False)]
    assert [c.name for c in select_cases(cases, quick=True)] == ["a"]
    assert [c.name for c in select_cases(cases)] == ["a", "b"]


def test_every_case_has_a_unique_name_and_a_goal_unless_baseline():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert [case for case in CASES if case.is_baseline] == [CASES[0]]
    assert all(case.goal != Goal() for case in CASES if not case.is_baseline)


# --- the table ---------------------------------------------------------------------------

def test_table_has_one_row_per_case_with_its_goal_and_verdict():
    measurements = [
        loaded(BASELINE, rps=1000, p99=81.09),
        loaded(RATIO_CASE, rps=250),
        loaded(LATENCY_CASE, p99=2100.0, body=5000),
        Measurement(LATENCY_CASE, error="probe answered 500: 'boom'"),
    ]
    table = render_table(measurements, {"small": "tiny", "big": "huge"})
    lines = table.splitlines()
    assert len(lines) == 2 + len(measurements)
    assert lines[0].split("|")[1].strip() == "case"
    assert len({len(line) for line in lines}) == 1, "columns are padded to one width"
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
    base, ratio, page, failed = cells[2:]
    assert base[:5] == ["base", "1,000.0", "40.5", "81.1", "1.00"]
    assert base[-2:] == ["(the reference)", "—"]
    assert ratio[4] == "0.25" and ratio[-2] == "≥ 0.6× baseline" and ratio[-1] == "MISSED: 0.25× < 0.6×"
    assert page[0] == "`/s/tiny/`"
    assert page[-2] == "p99 ≤ 50 ms, ≤ 1,000 B"
    assert page[3] == "2,100" and page[5] == "5,000 B"
    assert failed[1:4] == ["—", "—", "—"]
    assert failed[-1] == "FAILED: probe answered 500: 'boom'"


# --- in-flight requests ------------------------------------------------------------------

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:1F90 0100007F:C350 08 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1F90 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:1F90 0100007F:C352 06 00000000:00000000 00:00000000 00000000     0        0 0 3
   4: 0100007F:C353 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4 1
   5: 0100007F:1F91 0100007F:C354 08 00000000:00000000 00:00000000 00000000     0        0 5 1
"""


def test_open_connections_are_the_servers_established_and_close_wait_sockets():
    # Port 0x1F90 = 8080: the listener, TIME_WAIT and the client's own end do not count.
    assert count_open_connections(PROC_NET_TCP, 8080) == 2
    assert count_open_connections(PROC_NET_TCP, 8081) == 1
    assert count_open_connections(PROC_NET_TCP, 9999) == 0


# --- the seed -----------------------------------------------------------------------------

SMALL = seed.Scale(stores=4, users=10, documents=40, big_store_documents=20)


def test_seed_rows_fill_unset_columns_from_the_model():
    columns, count, rows = seed.table_rows(seed.SEEDS[0], SMALL, sqlite.dialect())
    rows = list(rows)
    assert count == 4 and len(rows) == 4
    first = dict(zip(columns, rows[0], strict=True))
    assert first["name"] == "general" and first["is_default"] == 1
    # Not set by the seed: the model's defaults.
    assert first["model_provider"] == "local" and first["knowledge_count"] == 5
    assert set(columns) == {column.name for column in seed.Store.__table__.columns}


def test_seed_names_a_not_null_column_it_does_not_fill():
    without_title = seed.TableSeed(seed.Document, lambda s: 1, lambda i, s: {"store_id": 1})
    columns, count, rows = seed.table_rows(without_title, SMALL, sqlite.dialect())
    with pytest.raises(seed.SeedError, match="documents.title is NOT NULL"):
        list(rows)


def test_seed_refuses_a_column_the_table_does_not_have():
    renamed = seed.TableSeed(seed.Store, lambda s: 1, lambda i, s: {"name": "x", "homepage": "y"})
    with pytest.raises(seed.SeedError, match="stores has no column homepage"):
        list(seed.table_rows(renamed, SMALL, sqlite.dialect())[2])


def test_seed_loads_the_data_set_into_the_migrated_database(app, db, client, create_store):
    counts, _ = seed.seed_database(db.engine, SMALL, log=lambda line: None, analyze=False)
    assert counts == {"stores": 4, "users": 10, "documents": 40, "store_grants": 4}
    assert seed.is_seeded(db.engine, SMALL)

    stores = dict(db.session.execute(sa.select(seed.Store.name, seed.Store.id)).all())
    assert set(stores) == {"general", "big", "small", "store-00004"}
    assert db.session.execute(sa.select(sa.func.count()).where(seed.Store.is_default)).scalar_one() == 1
    big_documents = db.session.execute(
        sa.select(sa.func.count()).select_from(seed.Document).where(seed.Document.store_id == stores["big"])
    ).scalar_one()
    assert big_documents == 20
    homepages = db.session.execute(
        sa.select(seed.User.casdoor_homepage).where(seed.User.casdoor_homepage.is_not(None))).scalars().all()
    assert len(homepages) == 10 // 5 and set(homepages) <= set(stores)

    # The app's own inserts come after the seeded ids, and the bench accounts can sign in.
    assert create_store("after-seed").id == 5
    response = client.post("/api/v1/auth/login/", json={"email": seed.MEMBER_EMAIL, "password": seed.BENCH_PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The member is a local account: it works in the stores it was granted, every one of them.
    token = response.get_json()["token"]
    listed = client.get("/api/v1/stores/", headers={"Authorization": f"Token {token}"}).get_json()["stores"]
    assert {store["name"] for store in listed} == set(stores)


def test_a_partly_seeded_database_is_not_taken_for_a_kept_one(app, db):
    seed.seed_database(db.engine, SMALL, seeds=seed.SEEDS[:2], log=lambda line: None, analyze=False)
    assert not seed.is_seeded(db.engine, SMALL)

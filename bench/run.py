"""``make bench``: Storehouse under gunicorn and wrk, on issue 9's data set.

Steps: pick the database (PostgreSQL when ``pg_isready`` answers on
127.0.0.1:5432, else SQLite), build its schema with ``flask db upgrade``, seed
it in bulk (``bench.seed``), start the development Casdoor server and the app
under gunicorn on loopback ports, sign in, then for each case of
``bench.cases.CASES``: one probe request (status must be 200; gives the
response size), a short warm-up for fast cases, wrk at fixed concurrency, and
a wait until the server has finished the requests wrk left in flight. Prints
a Markdown table with each case's goal and whether it was met, worker memory
and the machine's facts, and saves it under ``bench/results/``.

Run ``python -m bench --help`` for the options.
"""
import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

from bench import cases as cases_module
from bench import database, seed, wrk
from bench.cases import Measurement, evaluate, format_bytes, format_ms, is_compared_by_ratio, is_uneven
from bench.report import render_report
from bench.servers import BIN, ROOT, DevCasdoorProcess, GunicornServer, ServerError

RESULTS_DIR = ROOT / "bench" / "results"
#: The stores the case paths name (see bench.seed).
STORES = {"small": seed.SMALL_STORE, "big": seed.BIG_STORE}
#: A fast case (probe under this many seconds) gets a one-second wrk warm-up first.
WARMUP_BELOW_S = 0.2
#: The longest a single probe request may take before the case fails.
PROBE_LIMIT_S = 300
#: How long the server may take after a run to finish what wrk left in flight
#: before it is killed and started afresh (cheaper than waiting minutes).
DRAIN_LIMIT_S = 5
#: Runs of a ratio case at most, while its load lands on one worker (see cases.is_uneven).
MAX_ATTEMPTS = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick subset, 3 s per case (about a minute)")
    parser.add_argument("--db", choices=("postgresql", "sqlite"),
                        help="default: PostgreSQL when pg_isready answers on 127.0.0.1:5432, else SQLite")
    parser.add_argument("--only", nargs="+", metavar="CASE",
                        help="run only these cases (the baseline comes along when needed): "
                             + ", ".join(case.name for case in cases_module.CASES))
    parser.add_argument("--keep", action="store_true",
                        help="keep the seeded database afterwards and reuse a kept one (no seeding)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--duration", type=int, help="seconds of load per case (default 10, 3 with --quick)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (default 1: leaves the cores to the server)")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 3 if args.quick else 10
    return args


def log(message=""):
    print(message, flush=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        chosen = cases_module.select_cases(cases_module.CASES, args.only, args.quick)
        wrk.wrk_binary()
        bench_db = database.choose(args.db)
    except (ValueError, wrk.WrkError, RuntimeError) as exc:
        sys.exit(f"bench: {exc}")
    started_at = datetime.now()
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="storehouse-bench-") as workdir:
        try:
            seeding = prepare_database(bench_db, args.keep)
            db_description = bench_db.describe()
            measurements, memory, commands, raw = run_cases(bench_db, chosen, args, Path(workdir))
        except (ServerError, wrk.WrkError, seed.SeedError) as exc:
            sys.exit(f"bench: {exc}")
        finally:
            if not args.keep:
                bench_db.drop()
    facts = machine_facts(args, db_description, commands, seeding, started_at, (load_at_start, os.getloadavg()))
    notes = run_notes(measurements)
    report = render_report(facts=facts, measurements=measurements, memory=memory, notes=notes, stores=STORES)
    log()
    log(report)
    saved = save_results(report, measurements, raw, started_at, bench_db.kind, args.quick)
    log(f"Saved {saved.relative_to(ROOT)} (and the raw wrk output next to it).")


# --- the database --------------------------------------------------------------------

def prepare_database(bench_db, keep):
    """A migrated, seeded bench database; returns what the report says about seeding."""
    log(f"== database: {bench_db.kind} ({bench_db.url})")
    if keep and bench_db.exists():
        migrate(bench_db)
        if seed.is_seeded(bench_db.engine(), seed.Scale()):
            log("   kept data set found: seeding skipped")
            return "skipped (kept data set from an earlier --keep run)"
        log("   the kept database is incomplete: starting again")
    bench_db.create()
    migrate(bench_db)
    scale = seed.Scale()
    log(f"== seeding {scale.stores:,} stores, {scale.users:,} users, {scale.documents:,} documents")
    counts, seconds = seed.seed_database(bench_db.engine(), scale, log=log)
    log(f"   seeded in {seconds:.1f} s")
    return f"{seconds:.1f} s (" + ", ".join(f"{table} {rows:,}" for table, rows in counts.items()) + ")"


def base_environment(bench_db):
    """The app's environment: the bench database, a throwaway secret, quiet logs, no Casdoor,
    and background jobs left to ``flask jobs worker`` processes as in production (none run here)."""
    return {"DATABASE_URL": bench_db.url, "SECRET_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING",
            "FLASK_APP": "wsgi", "CASDOOR_ENDPOINT": "", "CASDOOR_CERTIFICATE": "", "JOBS_IN_PROCESS": "false"}


def migrate(bench_db):
    """The schema from the migrations, as a deploy builds it. :raises ServerError: with flask's output."""
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **base_environment(bench_db)}, check=False)
    if result.returncode != 0:
        raise ServerError(f"flask db upgrade failed on {bench_db.url}:\n{(result.stdout + result.stderr)[-2000:]}")
    log(f"   flask db upgrade: {time.perf_counter() - started:.1f} s")


# --- the cases ------------------------------------------------------------------------

class Servers:
    """The gunicorn servers of a run by name ("main", "cache off"), started when first needed.

    Keeps the worker memory snapshots for the report: at start, before a
    restart, and at the end.
    """

    def __init__(self, environment, args):
        self.environment = environment
        self.args = args
        self.variants = {"main": {}, "cache off": {"CASDOOR_TOKEN_CACHE_TTL": "0"}}
        self.running = {}
        self.memory = []
        self.commands = {}

    def get(self, name):
        if name not in self.running:
            server = GunicornServer(name, {**self.environment, **self.variants[name]},
                                    self.args.workers, self.args.threads)
            server.__enter__()
            self.running[name] = server
            self.commands[name] = server.describe_command()
            log(f"== gunicorn ({name}): {self.commands[name]}")
            self.memory.append((name, "start", server.worker_memory()))
        return self.running[name]

    def restart(self, name, why):
        """Kill the server ``name`` (abandoning what it is doing) and start a fresh one."""
        server = self.running.pop(name)
        self.memory.append((name, why, server.worker_memory()))
        server.kill()
        return self.get(name)

    def stop(self):
        for name, server in self.running.items():
            self.memory.append((name, "end", server.worker_memory()))
            server.__exit__(None, None, None)
        self.running.clear()


def run_cases(bench_db, chosen, args, workdir):
    """Start the servers, sign in, measure every chosen case.

    :returns: measurements, memory snapshots, the commands used, the raw wrk outputs.
    """
    environment = base_environment(bench_db)
    needs_casdoor = any(case.auth == "bearer" for case in chosen)
    casdoor = DevCasdoorProcess(workdir / "devcasdoor") if needs_casdoor else None
    servers = Servers(environment, args)
    raw = {}
    try:
        if casdoor is not None:
            casdoor.__enter__()
            environment.update(casdoor.app_environment())
            log(f"== development Casdoor server: {casdoor.url}")
        main_server = servers.get("main")
        credentials = sign_in(main_server.url, casdoor)
        measurements = []
        for case in chosen:
            measurement, output = measure(case, servers, credentials, args, workdir)
            measurements.append(measurement)
            if output:
                raw[case.name] = output
        servers.commands["wrk"] = " ".join(wrk.wrk_command(
            "http://127.0.0.1:<port><path>", "headers.lua", connections=args.connections,
            duration_s=args.duration, threads=args.wrk_threads)).replace(wrk.wrk_binary(), "wrk")
    finally:
        servers.stop()
        if casdoor is not None:
            casdoor.__exit__(None, None, None)
    return measurements, servers.memory, servers.commands, raw


def sign_in(url, casdoor):
    """Headers for each kind of caller: seeded accounts through the API, Bearer from Casdoor."""
    headers = {None: {}}
    for who, email in (("member", seed.MEMBER_EMAIL), ("admin", seed.ADMIN_EMAIL)):
        response = requests.post(f"{url}/api/v1/auth/login/", json={"email": email, "password": seed.BENCH_PASSWORD},
                                 timeout=30)
        if response.status_code != 200:
            raise ServerError(f"signing in {email} answered {response.status_code}: {response.text[:300]}")
        headers[who] = {"Authorization": f"Token {response.json()['token']}"}
    if casdoor is not None:
        headers["bearer"] = {"Authorization": f"Bearer {casdoor.access_token('bob')}"}
    return headers


def case_path(case):
    return case.path.format(**STORES)


def largest_rss(server):
    return max((worker.rss_kib for worker in server.worker_memory()), default=None)


def record_memory_after(measurement, server):
    workers = server.worker_memory()
    measurement.rss_after_kib = max((worker.rss_kib for worker in workers), default=None)
    measurement.rss_peak_kib = max((worker.peak_kib for worker in workers), default=None)


def measure(case, servers, credentials, args, workdir):
    """One case: probe, warm up, load, let the server finish. Returns (Measurement, wrk output).

    A case whose probe (one request, alone) outlasts the run is not loaded:
    under load no request would finish, and the server would need minutes
    to work through what wrk left behind.
    """
    server = servers.get(case.server)
    url = server.url + case_path(case)
    headers = credentials[case.auth]
    measurement = Measurement(case)
    server.reset_peaks()
    measurement.rss_before_kib = largest_rss(server)
    log(f"== {case.name}: GET {case_path(case)} ({case.auth or 'anonymous'}, {server.name} server)")
    started = time.perf_counter()
    try:
        probe = requests.get(url, headers=headers, allow_redirects=False, timeout=PROBE_LIMIT_S)
    except requests.RequestException as exc:
        measurement.error = f"probe request failed: {exc}"
        log(f"   {measurement.error}")
        servers.restart(case.server, f"after {case.name} (probe failed)")
        return measurement, None
    probe_s = time.perf_counter() - started
    measurement.probe_ms = probe_s * 1000
    measurement.body_bytes = len(probe.content)
    log(f"   probe: {probe.status_code}, {format_bytes(measurement.body_bytes)}, {probe_s * 1000:,.0f} ms")
    if probe.status_code != 200:
        where = f" -> {probe.headers.get('Location')}" if probe.is_redirect else f": {probe.text[:200]!r}"
        measurement.error = f"probe answered {probe.status_code}{where}"
        return measurement, None
    if probe_s > args.duration:
        measurement.skipped = (f"one request alone took {format_ms(measurement.probe_ms)} ms, longer than the "
                               f"{args.duration} s run: not loaded")
        record_memory_after(measurement, server)
        log(f"   {measurement.skipped}")
        return measurement, None
    if probe_s < WARMUP_BELOW_S:
        wrk.run_wrk(url, headers, connections=args.connections, duration_s=1, threads=args.wrk_threads,
                    workdir=workdir)
        finish_in_flight(server, DRAIN_LIMIT_S)
    while True:
        measurement.attempts += 1
        cpu_before = server.worker_cpu()
        result, output, _ = wrk.run_wrk(url, headers, connections=args.connections, duration_s=args.duration,
                                        threads=args.wrk_threads, workdir=workdir)
        cpu_after = server.worker_cpu()
        measurement.worker_cpu_s = sorted((cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after),
                                          reverse=True)
        if not (is_compared_by_ratio(case) and is_uneven(measurement.worker_cpu_s)
                and measurement.attempts < MAX_ATTEMPTS):
            break
        log(f"   one worker did {max(measurement.worker_cpu_s) / sum(measurement.worker_cpu_s):.0%} of the work "
            f"({result.requests_per_s:,.1f}/s): running again")
        finish_in_flight(server, DRAIN_LIMIT_S)
    measurement.requests = result.requests
    measurement.requests_per_s = result.requests_per_s
    measurement.p50_ms, measurement.p99_ms = result.p50_ms, result.p99_ms
    measurement.error_responses = result.error_responses
    measurement.socket_errors = result.socket_error_count
    measurement.settle_s, measurement.abandoned = finish_in_flight(server, DRAIN_LIMIT_S)
    record_memory_after(measurement, server)
    log(f"   {result.requests:,} requests, {result.requests_per_s:,.1f}/s, p50 {format_ms(result.p50_ms)} ms, "
        f"p99 {format_ms(result.p99_ms)} ms; worker CPU "
        + " + ".join(f"{seconds:.1f}" for seconds in measurement.worker_cpu_s) + " s")
    if measurement.abandoned:
        log(f"   {measurement.abandoned} request(s) still in flight after {DRAIN_LIMIT_S} s: restarting the server")
        servers.restart(case.server, f"after {case.name} ({measurement.abandoned} in flight, abandoned)")
    return measurement, output


def finish_in_flight(server, limit_s):
    """Wait up to ``limit_s`` for ``server`` to finish the requests wrk left behind.

    wrk stops at the end of its run, but the server still works through the
    requests it had accepted (up to one per connection); the next case must
    not pay for them. :returns: (seconds waited, requests still in flight).
    """
    started = time.perf_counter()
    while (in_flight := server.in_flight()) and time.perf_counter() - started < limit_s:
        time.sleep(0.1)
    return time.perf_counter() - started, in_flight


# --- the report -----------------------------------------------------------------------

def machine_facts(args, db_description, commands, seeding, started_at, load_averages):
    return [
        ("date", started_at.strftime("%Y-%m-%d %H:%M")),
        ("commit", git_description()),
        ("machine", f"{os.cpu_count()} cores ({cpu_model()}), {memory_total()}, {platform.system()} "
                    f"{platform.release()}; 1-minute load average {load_averages[0][0]:.2f} at the start, "
                    f"{load_averages[1][0]:.2f} at the end"),
        ("database", db_description),
        ("seeding", seeding),
        ("server", f"gunicorn gthread, {args.workers} workers × {args.threads} threads: "
                   + "; ".join(f"`{command}`" for name, command in commands.items() if name != "wrk")
                   + " (with a random SECRET_KEY, LOG_LEVEL=WARNING, JOBS_IN_PROCESS=false and, for Bearer cases, "
                     "the development Casdoor server's CASDOOR_* settings as scripts/run-dev.sh sets them)"),
        ("load", f"{wrk.wrk_version()}, {args.connections} connections, {args.wrk_threads} wrk thread(s), "
                 f"{args.duration} s per case{' (--quick)' if args.quick else ''}: `{commands['wrk']}`"),
    ]


def run_notes(measurements):
    notes = [
        f"wrk, gunicorn, PostgreSQL and the development Casdoor server share this machine's "
        f"{os.cpu_count()} cores (with whatever else runs on it): figures are noisy, compare runs on one "
        "machine only, and look at ratios before absolute numbers.",
        "bytes/response is the body of the probe, one request made alone before the load; probe ms is its "
        "time (the first request of the case, so caches may be cold). requests counts the responses wrk "
        "completed in the run: requests still in flight at the end are not in p50/p99, so with few "
        "requests the percentiles flatter a slow case.",
    ]
    repeated = [f"{m.case.name} ({m.attempts} runs)" for m in measurements if m.attempts > 1]
    if repeated:
        notes.append("gunicorn's workers accept connections as they happen to wake up and wrk keeps its "
                     "connections open, so a run may land on one worker; the baseline and the cases compared "
                     f"to it are run again (at most {MAX_ATTEMPTS} times) until the load is shared, so that "
                     f"their ratios compare servers of equal size. Run again: {', '.join(repeated)}.")
    uneven = [m.case.name for m in measurements if is_uneven(m.worker_cpu_s)]
    if uneven:
        notes.append(f"One worker did more than 80% of the work in {', '.join(uneven)} (CPU seconds per "
                     "worker are in the JSON): these figures are those of a one-worker server.")
    few = [m.case.name for m in measurements if m.error is None and 0 < m.requests < 100]
    if few:
        notes.append(f"Fewer than 100 requests completed in {', '.join(few)}: their p99 is close to their "
                     f"slowest request; a longer --duration gives steadier figures.")
    slow = [f"{m.case.name} {m.settle_s:.0f} s" for m in measurements if m.settle_s > 1 and not m.abandoned]
    if slow:
        notes.append("Time the server needed after wrk stopped to finish the requests left in flight "
                     f"(not measured, waited for before the next case): {', '.join(slow)}.")
    abandoned = [f"{m.case.name} ({m.abandoned})" for m in measurements if m.abandoned]
    if abandoned:
        notes.append(f"Requests still in flight {DRAIN_LIMIT_S} s after the run were abandoned and the server "
                     f"restarted (see worker memory): {', '.join(abandoned)}.")
    return notes


def git_description():
    def git(*command):
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} ({git('rev-parse', '--abbrev-ref', 'HEAD')}){' + uncommitted changes' if dirty else ''}"


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_total():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return "unknown RAM"


def save_results(report, measurements, raw, started_at, kind, quick):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{started_at:%Y%m%d-%H%M%S}-{kind}{'-quick' if quick else ''}"
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text(report)
    details = {m.case.name: {**{k: v for k, v in vars(m).items() if k != "case"},
                             "verdict": evaluate(m, next((b for b in measurements if b.case.is_baseline), None)).text,
                             "wrk_output": raw.get(m.case.name)} for m in measurements}
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(details, indent=2, default=str))
    return path

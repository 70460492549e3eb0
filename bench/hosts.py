"""What running on several hosts costs, measured in one run on this machine.

1. Request metrics on versus off: ``GET /api/v1/handshake/`` (the cheapest
   request, so the worst case for a fixed per-request cost) and ``GET /api/v1/me/``
   with a session token, driven in-process, rounds alternating between an app
   with ``METRICS_ENABLED`` and one without; the median of the rounds' per-request
   times and their ratio (goal: at most 5 % more).
2. File bytes to and from the object store: ``put`` and ``read`` of files of a
   few MB through the storage interface, to a directory and to an S3-compatible
   server on loopback (``moto_server``, started here), in MB/s.

The machine is shared: compare the ratios, not the absolute figures; ``uptime``
is printed with the tables. Usage: ``make bench-hosts`` or
``python bench/hosts.py [--requests N] [--rounds N] [--mb N]``.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import requests  # noqa: E402

from config import TestingConfig  # noqa: E402
from webapp import create_app  # noqa: E402

GOAL = 1.05


def make_app(db_uri, enabled):
    config = type("BenchConfig", (TestingConfig,), {
        "TESTING": False, "SQLALCHEMY_DATABASE_URI": db_uri, "LOG_LEVEL": "WARNING", "METRICS_ENABLED": enabled})
    return create_app(config)


def per_request(client, path, headers, count):
    started = time.perf_counter()
    for _ in range(count):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    return (time.perf_counter() - started) / count


def metrics_overhead(args, workdir):
    db_uri = f"sqlite:///{workdir / 'bench.db'}"
    apps = {"off": make_app(db_uri, False), "on": make_app(db_uri, True)}
    with apps["on"].app_context():
        flask_migrate.upgrade()
        from webapp.extensions import db
        from webapp.users import service

        service.create_local_user("bench", "bench@example.com", "correct horse battery", "")
        db.session.commit()
    token = apps["on"].test_client().post("/api/v1/auth/login/", json={
        "email": "bench@example.com", "password": "correct horse battery"}).json["token"]
    cases = [("/api/v1/handshake/", {}), ("/api/v1/me/", {"Authorization": f"Token {token}"})]
    rows = []
    for path, headers in cases:
        times = {"off": [], "on": []}
        clients = {name: app.test_client() for name, app in apps.items()}
        for name in apps:  # warm up both
            per_request(clients[name], path, headers, 50)
        for _ in range(args.rounds):
            for name in ("off", "on"):
                times[name].append(per_request(clients[name], path, headers, args.requests))
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        rows.append((path, off * 1e6, on * 1e6, on / off))
    return rows


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def object_store_throughput(args, workdir):
    from webapp.knowledge.storage import FileStorage, S3Storage

    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    port = free_port()
    log = open(workdir / "moto_server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=bucket)
        backends = {"directory": FileStorage(workdir / "files"),
                    "S3 (moto_server, loopback)": S3Storage(bucket, "bench", endpoint_url=url)}
        files = [os.urandom(args.mb * 1024 * 1024) for _ in range(args.files)]
        total_mb = args.mb * args.files
        rows = []
        for name, storage in backends.items():
            started = time.perf_counter()
            keys = [storage.put(data)[0] for data in files]
            put = time.perf_counter() - started
            started = time.perf_counter()
            for key in keys:
                assert len(b"".join(storage.iter_bytes(key))) == args.mb * 1024 * 1024
            read = time.perf_counter() - started
            rows.append((name, total_mb / put, total_mb / read))
        return rows
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per round (default 300)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    parser.add_argument("--mb", type=int, default=4, help="size of each file in MB (default 4)")
    parser.add_argument("--files", type=int, default=8, help="files per backend (default 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        overhead = metrics_overhead(args, workdir)
        throughput = object_store_throughput(args, workdir)
    print("\n## Request metrics: on versus off (in-process, median of rounds)\n")
    print("| request | off µs | on µs | on / off | goal ≤ 1.05 |")
    print("|---|---:|---:|---:|---|")
    for path, off, on, ratio in overhead:
        print(f"| `GET {path}` | {off:.0f} | {on:.0f} | {ratio:.3f} | {'met' if ratio <= GOAL else 'MISSED'} |")
    print(f"\n## Object store: {args.files} files of {args.mb} MB through the storage interface\n")
    print("| backend | upload MB/s | download MB/s |")
    print("|---|---:|---:|")
    for name, put, read in throughput:
        print(f"| {name} | {put:.0f} | {read:.0f} |")
    print(f"\n`uptime`: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()

"""Billing benchmarks (issue 12), against the development Casdoor server in its own process.

1. **Overhead per answer**: what ``before_answer`` + ``after_answer`` add to an answer
   (the dry run at Casdoor, the reservation, the charge and its job), measured as the
   difference between a priced answer and a free one through the same seam, each
   committed as the chat does; and the same in a store with a store limit and a default
   per-person limit (their period spend read from the usage rollup, the store's version
   swapped, the thresholds checked at settling). Target ≤ 2 ms of billing's own work.
   Measured two ways: the difference of the whole answers' medians less a separate dry
   run's median (noisy: it adds the spread of the commits and the HTTP calls), and timed
   inside the seam, answer by answer: a priced answer's time in ``before_answer`` and
   ``after_answer`` less its own dry run's, less the free answer's time there.
2. **Delivery throughput** with ``--workers`` ``flask jobs worker`` processes of ``--threads``
   threads each (``--batch`` jobs a claim), target ≥ 300 charges/s, two figures:

   * *from the workers' start*: ``--charges`` charges already pending, the workers started
     (``Popen``); charges/s from that moment until the last is delivered. Printed beside it:
     the workers' start-up (from ``Popen`` to the first job claimed, and to the first charge
     delivered, whose commit may wait out ``JOBS_BATCH_COMMIT_SECONDS``) and the rate from the
     first delivery on.
   * *workers already running* (production's shape: workers run all the time and charges
     arrive while they poll): the same workers, idle after the first figure, then a burst of
     ``--charges`` charges committed in ONE transaction; charges/s from the moment that commit
     is issued until the last of them is delivered. No start-up is in it.

   Both are checked exactly-once.
3. **Backlog after an outage**: ``--backlog`` charges recorded while Casdoor is down
   (its process stopped: workers get "connection refused" and back off), then Casdoor
   comes back; time from its return until every charge is delivered. Target ≤ 60 s.

0. **Casdoor's own ceiling** (``--ceiling 1,4,8,16``): add-transaction calls/s that the
   development Casdoor (another instance, same machine) takes from N concurrent clients
   (two processes, each a ``requests.Session`` per thread, keep-alive): what delivery can at most reach here.

Every run checks exactly-once: one Casdoor transaction per charge, sums equal to the
last decimal.

Usage: ``python bench/billing.py [--database-url URL] [--workers 2] [--threads 4]
[--charges 3000] [--backlog 10000] [--answers 300]`` (SQLite in a temporary file by default;
a PostgreSQL URL must name an empty database or schema).
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENT_ID, CLIENT_SECRET = "9c1d2e3f4a5b6c7d8e9f", "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CasdoorProcess:
    def __init__(self, port, state_dir):
        self.port, self.state_dir, self.process = port, state_dir, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devcasdoor", "--port", str(self.port), "--state-dir", str(self.state_dir),
             "--dev-controls"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                requests.get(self.url + "/.well-known/openid-configuration", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        for name in ("alice", "bob", "carol", "admin"):
            requests.post(f"{self.url}/_dev/users/storehouse/{name}", json={"balance": 1_000_000}, timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def transactions(self):
        return requests.get(self.url + "/_dev/transactions", timeout=60).json()


def _ceiling_client(url, threads, seconds):
    """Send add-transaction calls from ``threads`` threads (a keep-alive session each) for ``seconds``;
    returns how many were recorded."""
    import threading

    done = []
    deadline = time.perf_counter() + seconds

    def run():
        session, count = requests.Session(), 0
        body = {"owner": "storehouse", "name": "", "application": "ceiling", "category": "bench", "type": "bench",
                "user": "alice", "tag": "User", "amount": -0.00000001, "currency": "USD", "payment": "",
                "state": "Paid", "createdTime": "2026-01-01T00:00:00Z"}
        while time.perf_counter() < deadline:
            body["subtype"] = str(uuid.uuid4())
            answer = session.post(url + "/api/add-transaction", params={"id": "storehouse/"}, json=body,
                                  auth=(CLIENT_ID, CLIENT_SECRET), timeout=10).json()
            count += answer.get("status") == "ok"
        done.append(count)

    helpers = [threading.Thread(target=run) for _ in range(threads)]
    for thread in helpers:
        thread.start()
    for thread in helpers:
        thread.join()
    return sum(done)


def measure_ceiling(tmp, clients, seconds=5.0, processes=2):
    """``{clients: calls/s}`` of add-transaction at a fresh development Casdoor of its own."""
    from concurrent.futures import ProcessPoolExecutor

    casdoor = CasdoorProcess(free_port(), tmp / "casdoor-ceiling")
    casdoor.start()
    try:
        found = {}
        for n in clients:
            per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
            per = [k for k in per if k]
            with ProcessPoolExecutor(len(per)) as pool:
                started = time.perf_counter()
                total = sum(pool.map(_ceiling_client, [casdoor.url] * len(per), per, [seconds] * len(per)))
                found[n] = total / (time.perf_counter() - started)
        return found
    finally:
        casdoor.stop()


def make_app(database_url, casdoor_url):
    from config import Config
    from webapp import create_app

    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "CASDOOR_ENDPOINT": casdoor_url,
                "CASDOOR_CLIENT_ID": CLIENT_ID, "CASDOOR_CLIENT_SECRET": CLIENT_SECRET,
                "CASDOOR_ORG_NAME": "storehouse", "CASDOOR_APP_NAME": "storehouse", "JOBS_IN_PROCESS": False,
                "SECRET_KEY": "bench-secret", "LOG_LEVEL": "WARNING", "CASDOOR_TIMEOUT": 5.0}
    return create_app(type("BenchConfig", (Config,), settings))


def seed(app):
    import flask_migrate

    from webapp.chat.models import Chat
    from webapp.extensions import db
    from webapp.providers.models import Provider
    from webapp.stores import service as stores
    from webapp.users import service as accounts

    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        store = stores.create_store("bench")
        users = []
        for name, sub in (("alice", "5c0e7d1e-4c1b-4a5e-9b8e-2f1d0c9a7b11"),
                          ("bob", "7d2f9e3a-6b4c-4d7e-8a9f-3b2c1d0e9f22"),
                          ("carol", "9e4a1b5c-7d6e-4f80-9b1a-4c3d2e1f0a33")):
            user = accounts.create_local_user(name, f"{name}@storehouse.test", "bench password long", "")
            user.casdoor_sub, user.casdoor_name = sub, name
            users.append(user)
        priced = Provider(name="priced", kind="local", model="bench", input_price=Decimal("150"),
                          output_price=Decimal("600"), max_tokens=256, currency="USD")
        free = Provider(name="free", kind="local", model="bench", input_price=Decimal(0),
                        output_price=Decimal(0), max_tokens=256, currency="USD")
        db.session.add_all([priced, free])
        db.session.flush()
        chats = []
        for user in users:
            chat = Chat(store_id=store.id, user_id=user.id, title="bench")
            db.session.add(chat)
            chats.append(chat)
        # A store with limits high enough never to refuse: their whole path runs for every answer.
        from webapp.billing import limits
        limited = stores.create_store("bench-limited")
        db.session.flush()
        for subject in ("store", "per_person"):
            limits.set_store_limit(limited.id, subject, {"period": "month", "amount": Decimal(1_000_000),
                                                         "currency": "USD", "alert_at": 80})
        limited_chat = Chat(store_id=limited.id, user_id=users[0].id, title="bench limited")
        db.session.add(limited_chat)
        db.session.commit()
        return (store.id, [u.id for u in users], priced.id, free.id, [c.id for c in chats],
                limited.id, limited_chat.id)


def answer(chat, user, store, provider, prompt_tokens=700, completion_tokens=180):
    """One answer through the seam, as the chat does (no model): reserve, save, settle, commit.

    :returns: the milliseconds spent inside the seam (``before_answer`` + ``after_answer``).
    The rows the chat's request has loaded already (the person, the store, the provider,
    the chat) are loaded first: the previous commit expired them.
    """
    from webapp.chat import charging
    from webapp.chat.models import Message
    from webapp.extensions import db
    from webapp.providers.pricing import answer_price

    for row in (user, store, provider, chat):
        db.session.refresh(row)
    started = time.perf_counter()
    hold = charging.before_answer(user, store, provider, prompt_tokens)
    seam = time.perf_counter() - started
    message = Message(store_id=store.id, chat_id=chat.id, user_id=user.id, role="assistant", text="bench",
                      provider_id=provider.id, provider_name=provider.name, model=provider.model,
                      prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                      price=answer_price(prompt_tokens, completion_tokens, provider.input_price,
                                         provider.output_price),
                      currency=provider.currency, charge_key=str(uuid.uuid4()))
    db.session.add(message)
    db.session.flush()
    started = time.perf_counter()
    charging.after_answer(hold, message)
    seam += time.perf_counter() - started
    db.session.commit()
    return seam * 1000


class DryRunTimer:
    """Times the dry runs at Casdoor made inside the seam (the HTTP round trip is Casdoor's time,
    not billing's own): wraps this process's transactions client's ``check_balance``."""

    def __init__(self, client):
        self.client, self.spent = client, 0.0
        self.check = client.check_balance

        def timed(draft):
            started = time.perf_counter()
            try:
                return self.check(draft)
            finally:
                self.spent += time.perf_counter() - started

        client.check_balance = timed

    def take(self):
        """Milliseconds of dry runs since the last call."""
        spent, self.spent = self.spent, 0.0
        return spent * 1000


def measure_overhead(app, ids, n, *, delivered=False):
    """Medians and 95th percentiles (ms): whole answers ("free", "priced", "limited", committed),
    a dry run alone ("dry run"), and billing's own work timed inside the seam ("own", "own limited":
    a priced answer's time in the seam less its dry run's, less a free answer's time in the seam,
    paired answer by answer).

    No worker runs meanwhile, so the person's pending charges pile up (each round's balance
    check sums them: 0 to 2n here). ``delivered``: after each round (untimed) they are taken out
    of the pending sum, as running workers would take them: the steady state of a served
    deployment. They are set ``local_only`` (never sent; their jobs then find nothing to do), so
    the delivery and exactly-once checks that follow count only the charges really sent."""
    import sqlalchemy as sa

    from webapp.billing.models import Charge
    from webapp.chat.models import Chat
    from webapp.extensions import db
    from webapp.providers.models import Provider
    from webapp.stores.models import Store
    from webapp.users.models import User

    store_id, user_ids, priced_id, free_id, chat_ids, limited_id, limited_chat_id = ids
    with app.app_context():
        store, user = db.session.get(Store, store_id), db.session.get(User, user_ids[0])
        chat = db.session.get(Chat, chat_ids[0])
        limited, limited_chat = db.session.get(Store, limited_id), db.session.get(Chat, limited_chat_id)
        priced, free = db.session.get(Provider, priced_id), db.session.get(Provider, free_id)
        timings = {"free": [], "priced": [], "limited": [], "dry run": [], "own": [], "own limited": []}
        from webapp.billing import service
        from webapp.billing.client import TransactionDraft
        client = service.transactions_client()
        dry_runs = DryRunTimer(client)
        for _ in range(n):
            started = time.perf_counter()
            client.check_balance(TransactionDraft(key=str(uuid.uuid4()), user="alice", amount=Decimal("0.1"),
                                                  currency="USD", created_at=datetime.utcnow()))
            timings["dry run"].append((time.perf_counter() - started) * 1000)
            dry_runs.take()
            seams = {}
            for kind, provider, where, in_chat in (("free", free, store, chat), ("priced", priced, store, chat),
                                                   ("limited", priced, limited, limited_chat)):
                started = time.perf_counter()
                seams[kind] = answer(in_chat, user, where, provider) - dry_runs.take()
                timings[kind].append((time.perf_counter() - started) * 1000)
            timings["own"].append(seams["priced"] - seams["free"])
            timings["own limited"].append(seams["limited"] - seams["free"])
            if delivered:
                db.session.execute(sa.update(Charge).where(Charge.state == "pending").values(state="local_only"))
                db.session.commit()
        db.session.remove()
    return {kind: (statistics.median(v), sorted(v)[int(len(v) * 0.95) - 1]) for kind, v in timings.items()}


def seed_charges(app, ids, count, per_commit=500):
    """``count`` answers with pending charges, settled through ``after_answer`` (no dry run:
    the bulk is about delivery), committed ``per_commit`` at a time (None: all in one transaction).

    :returns: ``time.perf_counter()`` when the last commit was issued (the charges it
        commits are visible to the workers from the moment it returns).
    """
    from webapp.chat import charging
    from webapp.chat.models import Message
    from webapp.extensions import db

    store_id, user_ids, priced_id, _, chat_ids = ids[:5]
    per_commit = per_commit or max(count, 1)
    committed = None
    with app.app_context():
        for start in range(0, count, per_commit):
            for i in range(start, min(count, start + per_commit)):
                k = i % len(user_ids)
                message = Message(store_id=store_id, chat_id=chat_ids[k], user_id=user_ids[k], role="assistant",
                                  text="bench", provider_id=priced_id, provider_name="priced", model="bench",
                                  prompt_tokens=100 + i % 50, completion_tokens=20 + i % 7,
                                  price=Decimal("0.027") + Decimal(i % 97) / Decimal(10**8), currency="USD",
                                  charge_key=str(uuid.uuid4()))
                db.session.add(message)
                db.session.flush()
                charging.after_answer(None, message)
            committed = time.perf_counter()
            db.session.commit()
        db.session.remove()
    return committed


def counts(app):
    import sqlalchemy as sa

    from webapp.billing.models import Charge
    from webapp.extensions import db

    with app.app_context():
        rows = dict(db.session.execute(sa.select(Charge.state, sa.func.count()).group_by(Charge.state)).all())
        total = db.session.execute(sa.select(sa.func.sum(Charge.amount)).where(Charge.state == "delivered")).scalar()
        db.session.remove()
    return rows, total or Decimal(0)


def start_workers(database_url, casdoor_url, workers, threads, batch):
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret", "JOBS_IN_PROCESS": "false",
           "FLASK_APP": "wsgi", "JOBS_POLL_INTERVAL": "0.05", "LOG_LEVEL": "WARNING", "CASDOOR_TIMEOUT": "5",
           "CASDOOR_ENDPOINT": casdoor_url, "CASDOOR_CLIENT_ID": CLIENT_ID, "CASDOOR_CLIENT_SECRET": CLIENT_SECRET,
           "CASDOOR_ORG_NAME": "storehouse", "CASDOOR_APP_NAME": "storehouse"}
    return [subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--threads", str(threads),
                              "--batch", str(batch), "--kind", "billing.deliver_charge"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)]


def stop_workers(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_delivered(app, target, timeout, interval=0.2):
    """Seconds until ``target`` charges in all are delivered (polled every ``interval`` s)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        rows, _ = counts(app)
        if rows.get("delivered", 0) >= target:
            return time.perf_counter() - started
        time.sleep(interval)
    raise SystemExit(f"only {counts(app)[0]} after {timeout} s")


def last_job_id(app):
    import sqlalchemy as sa

    from webapp.extensions import db
    from webapp.jobs.models import Job

    with app.app_context():
        found = db.session.execute(sa.select(sa.func.max(Job.id))).scalar()
        db.session.remove()
    return found or 0


def wait_claimed(app, after_id, timeout, interval=0.02):
    """Seconds until a worker has claimed a job newer than ``after_id`` (its claim committed)."""
    import sqlalchemy as sa

    from webapp.extensions import db
    from webapp.jobs.models import Job

    started = time.perf_counter()
    with app.app_context():
        try:
            while time.perf_counter() - started < timeout:
                query = sa.select(Job.id).where(Job.id > after_id, Job.attempts > 0).limit(1)
                if db.session.execute(query).first() is not None:
                    return time.perf_counter() - started
                db.session.rollback()
                time.sleep(interval)
        finally:
            db.session.remove()
    raise SystemExit(f"no job claimed after {timeout} s")


def check_exactly_once(app, casdoor):
    rows, total = counts(app)
    transactions = [t for t in casdoor.transactions() if t.get("application") == "storehouse"]
    keys = [t["subtype"] for t in transactions]
    remote = sum((-Decimal(repr(t["amount"])) for t in transactions), Decimal(0))
    assert len(keys) == len(set(keys)) == rows.get("delivered", 0), (len(keys), len(set(keys)), rows)
    assert remote == total, (remote, total)
    return len(keys)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--charges", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=10000)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--outage", type=float, default=15.0, help="seconds Casdoor stays down")
    parser.add_argument("--ceiling", default="1,4,8,16",
                        help="concurrent clients at which Casdoor's own ceiling is measured ('' to skip)")
    parser.add_argument("--ceiling-only", action="store_true", help="measure Casdoor's ceiling and stop")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-billing-"))
    if args.ceiling:
        ceiling = measure_ceiling(tmp, [int(n) for n in args.ceiling.split(",")])
        print("0. Casdoor's ceiling, add-transaction calls/s by concurrent clients: "
              + ", ".join(f"{n}: {rate:.0f}" for n, rate in ceiling.items()))
        if args.ceiling_only:
            return
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    from config import database_url as normalise

    database_url = normalise(database_url)
    casdoor = CasdoorProcess(free_port(), tmp / "casdoor")
    casdoor.start()
    try:
        app = make_app(database_url, casdoor.url)
        ids = seed(app)
        print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, Casdoor: {casdoor.url} "
              f"(devcasdoor, its own process), workers: {args.workers} x {args.threads} threads, batch {args.batch}")

        steady = measure_overhead(app, ids, args.answers, delivered=True)
        print(f"1. billing's own work per answer, timed inside the seam (priced less its dry run, less free; "
              f"paired), the person's charges delivered between answers as workers keep them, median / p95 ms: "
              f"{steady['own'][0]:.2f} / {steady['own'][1]:.2f}, with limits {steady['own limited'][0]:.2f} / "
              f"{steady['own limited'][1]:.2f} (target <= 2 ms); dry run at Casdoor {steady['dry run'][0]:.2f} ms")
        overhead = measure_overhead(app, ids, args.answers)
        extra = overhead["priced"][0] - overhead["free"][0]
        print(f"   no worker running (the person's pending charges pile up to {2 * args.answers}): answer through "
              f"the seam, median / p95 ms: free {overhead['free'][0]:.2f} / "
              f"{overhead['free'][1]:.2f}, priced {overhead['priced'][0]:.2f} / {overhead['priced'][1]:.2f}; "
              f"billing overhead (median difference) {extra:.2f} ms, of which the dry run at "
              f"Casdoor (one HTTP round trip) {overhead['dry run'][0]:.2f} ms: billing's own work "
              f"{extra - overhead['dry run'][0]:.2f} ms")
        limited = overhead["limited"][0] - overhead["free"][0]
        print(f"   with a store limit and a per-person limit: priced {overhead['limited'][0]:.2f} / "
              f"{overhead['limited'][1]:.2f} ms; billing overhead {limited:.2f} ms, billing's own work "
              f"{limited - overhead['dry run'][0]:.2f} ms (limits add {limited - extra:.2f} ms)")
        print(f"   timed inside the seam, median / p95 ms: {overhead['own'][0]:.2f} / {overhead['own'][1]:.2f}, "
              f"with limits {overhead['own limited'][0]:.2f} / {overhead['own limited'][1]:.2f}")
        workers = start_workers(database_url, casdoor.url, args.workers, args.threads, args.batch)
        wait_delivered(app, 2 * args.answers, 120)
        stop_workers(workers)

        before = last_job_id(app)
        seed_charges(app, ids, args.charges)
        target = 2 * args.answers + args.charges  # priced answers in both stores, then the bulk
        started = time.perf_counter()
        workers = start_workers(database_url, casdoor.url, args.workers, args.threads, args.batch)
        # Timed from the workers' start, as always; also from their first delivery (start-up aside).
        wait_claimed(app, before, 600)
        claimed = time.perf_counter() - started
        wait_delivered(app, 2 * args.answers + 1, 600, interval=0.02)
        up = time.perf_counter() - started
        at_first = counts(app)[0].get("delivered", 0) - 2 * args.answers
        wait_delivered(app, target, 600)
        took = time.perf_counter() - started
        print(f"2. delivered {args.charges} charges in {took:.1f} s: {args.charges / took:.0f} charges/s "
              f"(target >= 300) from the workers' start, {args.workers} worker processes x {args.threads} threads, "
              f"batch {args.batch}; start-up {claimed:.2f} s to the first claim, {up:.2f} s to the first delivery; "
              f"{(args.charges - at_first) / (took - up):.0f} charges/s from the first delivery on")
        print(f"   exactly once: {check_exactly_once(app, casdoor)} Casdoor transactions, sums equal")
        # Production's shape: the same workers, running and idle, then a burst in one transaction.
        time.sleep(2.0)
        committed = seed_charges(app, ids, args.charges, per_commit=None)
        wait_delivered(app, target + args.charges, 600, interval=0.05)
        took = time.perf_counter() - committed
        stop_workers(workers)
        target += args.charges
        print(f"   workers already running and idle, a burst of {args.charges} charges committed in one "
              f"transaction: delivered in {took:.1f} s from its commit, {args.charges / took:.0f} charges/s "
              f"(target >= 300)")
        print(f"   exactly once: {check_exactly_once(app, casdoor)} Casdoor transactions, sums equal")

        # The outage: Casdoor's process stops (its memory goes with it: the rows so far are
        # checked above), charges pile up, workers keep trying and back off.
        casdoor.stop()
        workers = start_workers(database_url, casdoor.url, args.workers, args.threads, args.batch)
        seed_charges(app, ids, args.backlog)
        time.sleep(args.outage)
        casdoor.start()
        started = time.perf_counter()
        total = target + args.backlog
        took = wait_delivered(app, total, 600)
        stop_workers(workers)
        print(f"3. backlog of {args.backlog} charges recorded during a {args.outage:g} s outage: drained "
              f"{took:.1f} s after Casdoor came back (target <= 60 s)")
        transactions = [t for t in casdoor.transactions() if t.get("application") == "storehouse"]
        keys = {t["subtype"] for t in transactions}
        assert len(keys) == len(transactions) == args.backlog, (len(keys), len(transactions))
        print(f"   exactly once: {len(transactions)} Casdoor transactions for the backlog, none twice")
        print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        del started
    finally:
        casdoor.stop()


if __name__ == "__main__":
    main()

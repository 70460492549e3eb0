"""Delivery by real ``flask jobs worker`` processes: killed mid-batch, and two at once.

The workers are separate processes on the test database, delivering to the
development Casdoor server of this test process over loopback.
"""
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.billing import (
    casdoor_rows,
    casdoor_total,
    casdoor_user,
    charges,
    give_answer,
    ledger_total,
    make_chat,
    make_provider,
)
from tests.support.waiting import wait_until
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs.models import Job

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def start_worker(app, sso_app_config, log, threads=1, batch=10):
    """``flask jobs worker`` in a process of its own, configured through its environment."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "worker-test-secret", "JOBS_IN_PROCESS": "false",
           "FLASK_APP": "wsgi", "JOBS_POLL_INTERVAL": "0.05", "LOG_LEVEL": "WARNING", "CASDOOR_TIMEOUT": "5",
           **sso_app_config}
    return subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--threads", str(threads),
                             "--batch", str(batch)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)


def delivered_count():
    db.session.expire_all()
    return db.session.execute(sa.select(sa.func.count()).select_from(sa.text("charges"))
                              .where(sa.text("state = 'delivered'"))).scalar()


def answers(store, user, provider, n):
    chat = make_chat(store, user)
    return [give_answer(chat, user, store, provider, prompt_tokens=11, completion_tokens=7) for _ in range(n)]


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.serial
def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(app, casdoor, sso_app_config,
                                                                       create_store, create_user, tmp_path):
    store = create_store("research")
    provider = make_provider("1000", "3000", max_tokens=10)
    casdoor.controls.patch_user("storehouse", "alice", balance=1000)
    messages = answers(store, casdoor_user(create_user, "alice"), provider, 150)
    # Every answer from Casdoor comes a little late, after the transaction is stored: a kill
    # lands between "Casdoor recorded it" and "we recorded that it did" most of the time.
    casdoor.controls.inject_fault("/api/add-transaction", "timeout_after", count=100_000, seconds=0.03)
    log = open(tmp_path / "worker.log", "wb")
    worker = start_worker(app, sso_app_config, log, threads=2, batch=20)
    try:
        wait_until(lambda: delivered_count() >= 40, 60, 0.1, message=lambda: (tmp_path / "worker.log").read_text())
        # Kill it while Casdoor holds sends it has not committed (not just after a batch's commit).
        wait_until(lambda: len(casdoor_rows(casdoor)) > delivered_count(), 60, 0.01,
                   message=lambda: (tmp_path / "worker.log").read_text())
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        at_kill = delivered_count()
        assert at_kill < 150
        if db.engine.dialect.name == "postgresql":
            # Outcomes are committed per batch: the kill left sends Casdoor holds and we did not record.
            assert len(casdoor_rows(casdoor)) > at_kill
        running = db.session.execute(sa.select(sa.func.count()).select_from(Job).where(Job.state == "running")).scalar()
        assert running > 0  # it died holding a batch
        # Time travel: the dead worker's leases run out (they would in lease_seconds).
        db.session.execute(sa.update(Job).where(Job.state == "running").values(lease_until=utcnow()))
        db.session.commit()
        worker = start_worker(app, sso_app_config, log, threads=2, batch=20)
        wait_until(lambda: delivered_count() == 150, 120, 0.1, message=lambda: (tmp_path / "worker.log").read_text())
    finally:
        stop(worker)
        log.close()
        casdoor.controls.clear_faults()
    rows = casdoor_rows(casdoor)
    assert len(rows) == 150 and {r["subtype"] for r in rows} == {m.charge_key for m in messages}
    assert casdoor_total(casdoor) == ledger_total()
    assert {c.casdoor_name for c in charges()} == {r["name"] for r in rows}


@pytest.mark.serial
def test_two_workers_on_postgresql_over_a_thousand_charges_send_none_twice(app, casdoor, sso_app_config,
                                                                          create_store, create_user, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two worker processes against PostgreSQL (set TEST_DATABASE_URL)")
    store = create_store("research")
    provider = make_provider("1000", "3000", max_tokens=10)
    users = [casdoor_user(create_user, name) for name in ("alice", "bob", "carol")]
    for user in users:
        casdoor.controls.patch_user("storehouse", user.casdoor_name, balance=1000)
    messages = []
    for i, user in enumerate(users):
        messages += answers(store, user, provider, 334 if i < 2 else 332)
    assert len(messages) == 1000
    # Both workers start before any job is due, so that they really compete for the same jobs.
    db.session.execute(sa.update(Job).values(run_after=utcnow() + timedelta(seconds=8)))
    db.session.commit()
    log = open(tmp_path / "workers.log", "wb")
    workers = [start_worker(app, sso_app_config, log, threads=2, batch=25) for _ in range(2)]
    try:
        wait_until(lambda: delivered_count() == 1000, 240, 0.1, message=lambda: (tmp_path / "workers.log").read_text())
    finally:
        for worker in workers:
            stop(worker)
        log.close()
    rows = casdoor_rows(casdoor)
    assert len(rows) == 1000 and len({r["subtype"] for r in rows}) == 1000
    assert casdoor_total(casdoor) == ledger_total()
    by_worker = db.session.execute(sa.select(Job.leased_by)).scalars().all()
    assert len({name.split(":")[1] for name in by_worker if name}) == 2, (tmp_path / "workers.log").read_text()

"""What Casdoor changes cost: a webhook from arrival to revocation applied, and a sync over N users.

Measured in one run on this machine against the development Casdoor on
loopback, with the app driven in-process (the figures are the app's work plus
its calls to Casdoor), next to a baseline request in the same run:

- baseline: ``GET /api/v1/me/`` with a Storehouse session key;
- webhook: ``POST /api/v1/casdoor/webhook`` naming a person whom Casdoor now
  says is forbidden (re-read from Casdoor, sessions revoked, committed): the
  response is sent after the revocation is applied, so its latency is the time
  from arrival to revocation;
- sync: one ``flask casdoor sync`` run over ``--users`` Casdoor users (default
  10,000), every one linked to a local account, one of them changed.

Usage: ``python bench/casdoor_changes.py [--users N] [--requests N]`` (``make bench-auth``).
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from config import TestingConfig  # noqa: E402
from devcasdoor.testing import DevCasdoor  # noqa: E402
from webapp import create_app  # noqa: E402

SECRET = "bench-webhook-secret"


def seed_with_users(count):
    seed = json.loads((ROOT / "devcasdoor" / "seed" / "demo.json").read_text())
    template = next(u for u in seed["users"] if u["name"] == "bob")
    for n in range(count - len(seed["users"])):
        user = dict(template, name=f"user{n:05d}", id=str(uuid.uuid4()), email=f"user{n:05d}@storehouse.test",
                    displayName=f"User {n}")
        seed["users"].append(user)
    return seed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="storehouse-bench-"))
    seed = seed_with_users(args.users)
    with DevCasdoor(seed=seed, state_dir=workdir / "casdoor") as casdoor:
        app_seed = next(a for a in seed["applications"] if a["name"] == "storehouse")
        config = type("BenchConfig", (TestingConfig,), {
            "TESTING": False, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}", "LOG_LEVEL": "WARNING",
            "CASDOOR_ENDPOINT": casdoor.url, "CASDOOR_CLIENT_ID": app_seed["clientId"],
            "CASDOOR_CLIENT_SECRET": app_seed["clientSecret"], "CASDOOR_ORG_NAME": "storehouse",
            "CASDOOR_APP_NAME": "storehouse", "CASDOOR_WEBHOOK_SECRET": SECRET, "AUDIT_PURGE_SCHEDULED": False,
            "CASDOOR_TIMEOUT": 60.0})
        app = create_app(config)
        from webapp.extensions import db
        from webapp.users.models import User
        from webapp.users.service import create_local_user

        with app.app_context():
            flask_migrate.upgrade()
            db.session.execute(sa.insert(User), [
                dict(username=u["name"], email=u["email"], display_name=u["displayName"], casdoor_sub=u["id"],
                     casdoor_org="storehouse", casdoor_name=u["name"], casdoor_homepage=u.get("homepage") or None,
                     casdoor_groups=u.get("groups") or [], is_admin=False, is_active=True)
                for u in seed["users"]])
            base = create_local_user("baseline", "baseline@example.com", "bench-password-1")
            db.session.commit()
            email = base.email
        client = app.test_client()
        key = client.post("/api/v1/auth/login/", json={"email": email, "password": "bench-password-1"}).json["token"]
        headers = {"Authorization": f"Token {key}"}
        samples = {"baseline": [], "webhook": []}
        for _ in range(20):
            client.get("/api/v1/me/", headers=headers)
        for _ in range(args.requests):
            start = time.perf_counter()
            assert client.get("/api/v1/me/", headers=headers).status_code == 200
            samples["baseline"].append(time.perf_counter() - start)
        names = [u["name"] for u in seed["users"] if u["name"].startswith("user")][:args.requests]
        for name in names:
            casdoor.controls.patch_user("storehouse", name, isForbidden=True)
            payload = {"action": "update-user", "organization": "storehouse", "user": "admin",
                       "requestUri": f"/api/update-user?id=storehouse/{name}", "object": "{}"}
            start = time.perf_counter()
            response = client.post("/api/v1/casdoor/webhook", json=payload,
                                   headers={"Authorization": f"Bearer {SECRET}"})
            samples["webhook"].append(time.perf_counter() - start)
            assert response.status_code == 200 and response.json["changed"], response.json
        casdoor.controls.patch_user("storehouse", "alice", homepage="general")
        with app.app_context():
            from webapp.casdoor import get_casdoor

            listing_start = time.perf_counter()
            page = 1
            while True:
                records, _ = get_casdoor().api.get_users(page=page, page_size=app.config["CASDOOR_SYNC_PAGE_SIZE"])
                if len(records) < app.config["CASDOOR_SYNC_PAGE_SIZE"]:
                    break
                page += 1
            listing_seconds = time.perf_counter() - listing_start
        runner = app.test_cli_runner()
        start = time.perf_counter()
        result = runner.invoke(args=["casdoor", "sync"])
        sync_seconds = time.perf_counter() - start
        assert result.exit_code == 0, result.output
        again_start = time.perf_counter()
        runner.invoke(args=["casdoor", "sync"])
        again_seconds = time.perf_counter() - again_start

    baseline = statistics.median(samples["baseline"])
    webhook = statistics.median(samples["webhook"])
    print(f"{args.requests} requests each, median latency")
    print(f"  baseline GET /api/v1/me/ (Token)        {baseline * 1000:8.2f} ms")
    print(f"  webhook: arrival -> revocation applied  {webhook * 1000:8.2f} ms  x{webhook / baseline:6.1f} "
          f"(p90 {sorted(samples['webhook'])[int(len(samples['webhook']) * 0.9)] * 1000:.2f} ms)")
    print(f"sync over {len(seed['users'])} Casdoor users: {sync_seconds:.2f} s (first: {result.output.strip()}), "
          f"{again_seconds:.2f} s when nothing changed; of which reading the pages from the development "
          f"Casdoor alone: {listing_seconds:.2f} s")


if __name__ == "__main__":
    main()

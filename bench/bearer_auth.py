"""Cost of authenticating an API request, measured in one run on this machine.

Three ways to call ``GET /api/v1/me/``:

- ``Token``: a Storehouse session key (the baseline: one indexed lookup);
- ``Bearer, cached``: a Casdoor JWT with CASDOOR_TOKEN_CACHE_TTL=300 (verified once);
- ``Bearer, uncached``: the same JWT with the cache off (signature check, claim
  mapping and a sign-in refresh on every request).

The development Casdoor server runs on loopback; the app is driven in-process
so the figures are the app's work, not an HTTP client's. Prints requests per
second and each ratio to the baseline. Usage: ``make bench-auth`` or
``python bench/bearer_auth.py [--requests N]``. ``make bench`` measures the
same three cases over HTTP under gunicorn, among others.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import requests  # noqa: E402

from config import TestingConfig  # noqa: E402
from devcasdoor.testing import DevCasdoor  # noqa: E402
from webapp import create_app  # noqa: E402


def make_app(db_uri, casdoor, ttl):
    import json

    seed = json.loads((ROOT / "devcasdoor" / "seed" / "demo.json").read_text())
    app_seed = next(a for a in seed["applications"] if a["name"] == "storehouse")
    config = type("BenchConfig", (TestingConfig,), {
        "TESTING": False, "SQLALCHEMY_DATABASE_URI": db_uri, "LOG_LEVEL": "WARNING",
        "CASDOOR_ENDPOINT": casdoor.url, "CASDOOR_CLIENT_ID": app_seed["clientId"],
        "CASDOOR_CLIENT_SECRET": app_seed["clientSecret"], "CASDOOR_ORG_NAME": "storehouse",
        "CASDOOR_APP_NAME": "storehouse", "CASDOOR_TOKEN_CACHE_TTL": ttl,
    })
    return create_app(config), app_seed


def timed(client, headers, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get("/api/v1/me/", headers=headers)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.get_data(as_text=True)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="storehouse-bench-"))
    db_uri = f"sqlite:///{workdir / 'bench.db'}"
    with DevCasdoor(state_dir=workdir / "casdoor") as casdoor:
        results = {}
        for label, ttl in (("Bearer, cached", 300), ("Bearer, uncached", 0)):
            app, app_seed = make_app(db_uri, casdoor, ttl)
            with app.app_context():
                flask_migrate.upgrade()
            token = requests.post(f"{casdoor.url}/api/login/oauth/access_token", data={
                "grant_type": "password", "client_id": app_seed["clientId"],
                "client_secret": app_seed["clientSecret"], "username": "bob",
                "password": "storehouse-dev"}, timeout=10).json()["access_token"]
            client = app.test_client()
            timed(client, {"Authorization": f"Bearer {token}"}, 20)  # warm up (provision, keys)
            results[label] = timed(client, {"Authorization": f"Bearer {token}"}, args.requests)
            if ttl:
                from webapp.extensions import db
                from webapp.users import service
                with app.app_context():
                    bob = service.find_user_by_username("bob")
                    bob.set_password("bench-password-1")
                    bob.email = bob.email or "bob@storehouse.test"
                    db.session.commit()
                    email = bob.email
                key = client.post("/api/v1/auth/login/", json={"email": email, "password": "bench-password-1"}).json["token"]
                timed(client, {"Authorization": f"Token {key}"}, 20)
                results["Token (baseline)"] = timed(client, {"Authorization": f"Token {key}"}, args.requests)

    baseline = statistics.median(results["Token (baseline)"])
    print(f"GET /api/v1/me/, {args.requests} requests each, median latency (ms), requests/s, ratio to baseline")
    for label in ("Token (baseline)", "Bearer, cached", "Bearer, uncached"):
        median = statistics.median(results[label])
        print(f"  {label:<18} {median * 1000:8.3f} ms  {1 / median:8.0f}/s  x{median / baseline:5.2f}")


if __name__ == "__main__":
    main()

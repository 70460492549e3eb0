"""The server's whole in-memory state, loaded from a seed and guarded by one lock.

Casdoor keeps all of this in a database; here it is a set of dicts. Every
handler takes ``state.lock`` around reads that must be consistent and around
every write, so the threaded werkzeug server never sees half an update.
"""
import copy
import datetime
import json
import os
import threading

from . import keys
from .users import build_user

#: The transaction API generations the server can speak (see routes_transactions).
TRANSACTIONS_MODES = ("current", "legacy")


def now_rfc3339():
    """The current time the way Casdoor writes it: RFC 3339 with the local offset."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def load_seed(seed):
    """Return a seed dict from a dict or from the path of a JSON file."""
    if isinstance(seed, dict):
        return copy.deepcopy(seed)
    with open(seed, encoding="utf-8") as f:
        return json.load(f)


class State:
    """Organizations, applications, certs, users, tokens, transactions, webhook queue.

    :param seed: a seed dict (see ``seed/demo.json``).
    :param state_dir: where generated keys are kept across restarts.
    :param transactions_mode: which Casdoor generation the transaction API
        speaks, ``"current"`` (v2.162+) or ``"legacy"`` (v2.117 - v2.144); a reset
        comes back to it even after ``/_dev/transactions-mode`` changed it.
    """

    def __init__(self, seed, state_dir, transactions_mode="current"):
        if transactions_mode not in TRANSACTIONS_MODES:
            raise ValueError(f"transactions_mode must be one of {TRANSACTIONS_MODES}, "
                             f"not {transactions_mode!r}")
        self.lock = threading.RLock()
        self.seed = copy.deepcopy(seed)
        self.state_dir = state_dir
        self.default_transactions_mode = transactions_mode
        #: Bumped by every reset, so work started before a reset can tell.
        self.generation = 0
        os.makedirs(state_dir, exist_ok=True)
        self.reset()

    def reset(self):
        """Back to the seed. Keys survive because they are reloaded from ``state_dir``."""
        seed = copy.deepcopy(self.seed)
        with self.lock:
            self.generation += 1
            created = now_rfc3339()
            self.certs = {}
            for cert in seed.get("certs", []):
                cert.setdefault("cryptoAlgorithm", "RS256")
                cert.setdefault("bitSize", 2048)
                self.certs[cert["name"]] = keys.ensure_key_material(cert, self.state_dir)
            self.organizations = {}
            for org in seed.get("organizations", []):
                org.setdefault("owner", "admin")
                org.setdefault("createdTime", created)
                for key, default in (("balanceCredit", 0.0), ("orgBalance", 0.0),
                                     ("userBalance", 0.0), ("balanceCurrency", "USD")):
                    org.setdefault(key, default)
                self.organizations[org["name"]] = org
            self.applications = {}
            for app in seed.get("applications", []):
                app.setdefault("owner", "admin")
                app.setdefault("createdTime", created)
                app.setdefault("tokenFormat", "JWT")
                app.setdefault("tokenFields", [])
                app.setdefault("tokenAttributes", [])
                app.setdefault("scopes", [])
                app.setdefault("grantTypes", [])
                app.setdefault("redirectUris", [])
                app.setdefault("expireInHours", 168)
                app.setdefault("refreshExpireInHours", 168)
                app.setdefault("cert", "cert-built-in")
                self.applications[app["name"]] = app
            self.users = {}
            for entry in seed.get("users", []):
                entry.setdefault("createdTime", created)
                user = build_user(entry)
                self.users[(user["owner"], user["name"])] = user
            # userBalance is the sum of the members' balances, as Casdoor keeps it.
            for org in self.organizations.values():
                org["userBalance"] = round(sum(
                    u["balance"] for u in self.users.values() if u["owner"] == org["name"]), 8)
            self.webhooks = [self._webhook_defaults(w) for w in seed.get("webhooks", [])]
            self.tokens = {}
            self.transactions = {}
            self.transactions_mode = self.default_transactions_mode
            self.webhook_events = []
            self.deliveries = []
            self.faults = {}

    @staticmethod
    def _webhook_defaults(webhook):
        webhook.setdefault("owner", "admin")
        webhook.setdefault("createdTime", now_rfc3339())
        webhook.setdefault("method", "POST")
        webhook.setdefault("contentType", "application/json")
        webhook.setdefault("headers", [])
        webhook.setdefault("events", [])
        webhook.setdefault("tokenFields", [])
        webhook.setdefault("objectFields", [])
        webhook.setdefault("isUserExtended", False)
        webhook.setdefault("singleOrgOnly", False)
        webhook.setdefault("isEnabled", True)
        webhook.setdefault("maxRetries", 3)
        webhook.setdefault("retryInterval", 60)
        webhook.setdefault("useExponentialBackoff", False)
        return webhook

    def add_webhook(self, webhook):
        with self.lock:
            webhook = self._webhook_defaults(copy.deepcopy(webhook))
            self.webhooks = [w for w in self.webhooks if w["name"] != webhook["name"]]
            self.webhooks.append(webhook)
            return webhook

    # -- lookups (call with the lock held when consistency matters) --

    def application_by_client_id(self, client_id):
        for app in self.applications.values():
            if client_id and app.get("clientId") == client_id:
                return app
        return None

    def application(self, name_or_client_id):
        return self.applications.get(name_or_client_id) or self.application_by_client_id(name_or_client_id)

    def cert_for_application(self, app):
        """The cert that signs an application's tokens (Casdoor's ``getCertByApplication``)."""
        return self.certs.get(app.get("cert") or "") or self.certs.get("cert-built-in")

    def user(self, owner, name):
        return self.users.get((owner, name))

    def user_by_field(self, owner, field, value):
        for user in self.users.values():
            if (owner is None or user["owner"] == owner) and value and user.get(field) == value:
                return user
        return None

    def token_by(self, field, value):
        if not value:
            return None
        for token in self.tokens.values():
            if token.get(field) == value:
                return token
        return None

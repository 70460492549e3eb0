"""gunicorn settings for Storehouse: ``gunicorn -c gunicorn.conf.py`` (README "Production").

The benchmark and the tests that start a real server use this file too, so they
run what production runs. Command-line options override it, e.g.
``gunicorn -c gunicorn.conf.py --threads 8``; the app then sizes its database
pool from the threads gunicorn really runs (``on_starting`` below).

Settings read from the environment (the app's own settings are in ``config.py``):
``WEB_BIND`` (``127.0.0.1:8000``), ``WEB_WORKERS`` (2), ``WEB_THREADS`` (16),
``WEB_ACCESS_LOG`` (``-`` for stdout; empty = no access log), and
``PROMETHEUS_MULTIPROC_DIR`` (the metrics of every worker, see README "Production"),
``LOG_FORMAT=json`` (gunicorn's lines and access log as JSON objects, like the app's).
"""
import os

wsgi_app = "wsgi:app"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")

# gthread: an answer streams for as long as the model writes (tens of seconds) and
# holds its thread all along, so a worker needs many threads; processes add memory
# (the local model, the caches) and threads do not. Size workers × threads for the
# answers streaming at once (CHAT_MAX_STREAMS_PER_USER each) plus ordinary requests.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))

# No worker timeout: gthread's main loop keeps the heartbeat while request threads
# work, and a long stream is not a hung worker; the local model's long C calls
# would otherwise get a busy worker killed mid-answer.
timeout = 0
# On a reload or SIGTERM, open streams get this long to finish (their partial
# answers are saved and charged when the client or the server closes them).
graceful_timeout = 30
# Behind a load balancer that keeps connections open.
keepalive = 5

# Off: every worker builds the app after the fork, so no database pool, Redis
# connection or loaded model is ever shared by two processes (a connection
# inherited across fork and used by both corrupts both), and a worker restarted
# alone picks up the same code. The price is a slower start and no copy-on-write
# sharing of the app's memory, which is small next to the model each worker loads.
preload_app = False

accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
# The request id the app sets (and its error pages show) goes into the access log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(D)sus %({x-request-id}o)s'

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines and its access log as JSON objects, through the root logger
    # where the app (webapp.logs) writes too: one format, one stream.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "webapp.logs.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


def on_starting(server):
    """Before any worker: tell the app how many threads serve it; start the metrics afresh.

    ``webapp.database.pool_options`` keeps one pooled connection per thread; a
    ``--threads`` given on the command line must size the pool, not the default.
    With ``PROMETHEUS_MULTIPROC_DIR`` each worker writes its metrics to files
    there; those of a previous run would be added to this one's, so they go.
    """
    os.environ["WEB_THREADS"] = str(server.cfg.threads)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def post_worker_init(worker):
    """The app is loaded in this web process: load the answer renderer before the first request
    (``webapp.chat.rendering.warm_up``; the app itself loads it lazily, so job workers start without it)."""
    from webapp.chat.rendering import warm_up

    warm_up()


def child_exit(server, worker):
    """A worker ended: its live gauges stop counting (its counters stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

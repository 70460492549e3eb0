"""What ``GET /metrics`` shows: the recorded metrics of every process, and gauges read at scrape time.

The recorded ones (requests, Casdoor calls, model runs, cache lookups, job
failures) are declared in ``webapp.metrics``. The gauges below need the
database, so they are computed when Prometheus asks, in a few bounded queries
on indexed columns (``jobs (state, run_after)``, ``charges (state, created_at)``),
grouped by job kind (a handful), never per row.
"""
import sqlalchemy as sa
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from webapp.billing.models import PENDING, Charge
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs.models import QUEUED, RUNNING, Job


class DatabaseGauges:
    """A prometheus-client collector over the job queue and the charge outbox."""

    def collect(self):
        now = utcnow()
        depth = GaugeMetricFamily("storehouse_job_queue_depth", "Jobs waiting or running, by kind and state.",
                                  labels=["kind", "state"])
        oldest = GaugeMetricFamily("storehouse_job_oldest_due_age_seconds",
                                   "How long the oldest due queued job has waited, by kind.", labels=["kind"])
        with db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(Job.kind, Job.state, sa.func.count(), sa.func.min(Job.run_after))
                .where(Job.state.in_((QUEUED, RUNNING))).group_by(Job.kind, Job.state)).all()
            due = connection.execute(
                sa.select(Job.kind, sa.func.min(Job.run_after))
                .where(Job.state == QUEUED, Job.run_after <= now).group_by(Job.kind)).all()
            pending, first = connection.execute(
                sa.select(sa.func.count(), sa.func.min(Charge.created_at)).where(Charge.state == PENDING)).one()
        for kind, state, count, _ in rows:
            depth.add_metric([kind, state], count)
        for kind, since in due:
            oldest.add_metric([kind], max(0.0, (now - since).total_seconds()))
        yield depth
        yield oldest
        yield GaugeMetricFamily("storehouse_charges_pending", "Charges not yet delivered to Casdoor.", value=pending)
        yield GaugeMetricFamily("storehouse_charge_delivery_lag_seconds",
                                "Age of the oldest charge not yet delivered (0 when none).",
                                value=max(0.0, (now - first).total_seconds()) if first else 0.0)


def exposition(multiprocess_dir=""):
    """The text Prometheus reads: every process's recorded metrics, then the database gauges.

    :param multiprocess_dir: ``PROMETHEUS_MULTIPROC_DIR``: add up the files of every
        process there; empty: this process's metrics only.
    """
    if multiprocess_dir:
        from prometheus_client import multiprocess

        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded, path=multiprocess_dir)
    else:
        recorded = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(DatabaseGauges())
    return generate_latest(recorded) + generate_latest(gauges)

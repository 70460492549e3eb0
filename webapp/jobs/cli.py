"""``flask jobs worker | list | retry | purge``."""
import logging
import signal
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs import jobqueue as queue
from webapp.jobs import queue_periodic_jobs
from webapp.jobs.models import DONE, FAILED, Job
from webapp.jobs.registry import registered_kinds
from webapp.jobs.worker import Worker

log = logging.getLogger("webapp.jobs")

jobs_cli = AppGroup("jobs", help="Run and inspect background jobs.")


@jobs_cli.command("worker")
@click.option("--threads", default=None, type=click.IntRange(1, 64),
              help="Jobs run in parallel (default JOBS_WORKER_THREADS).")
@click.option("--batch", default=None, type=click.IntRange(1, 500), help="Jobs claimed at a time.")
@click.option("--kind", "kinds", multiple=True, help="Only this job kind (repeatable).")
@click.option("--once", is_flag=True, help="Run what is due, then exit.")
def worker(threads, batch, kinds, once):
    """Run background jobs until stopped (SIGTERM or Ctrl-C finish the running job first)."""
    unknown = sorted(set(kinds) - set(registered_kinds()))
    if unknown:
        raise click.UsageError(f"Unknown job kind(s): {', '.join(unknown)}. Known: {', '.join(registered_kinds())}.")
    config = current_app.config
    # A worker makes sure the periodic jobs (Casdoor sync, log retention) are queued: a
    # deployment may have no web traffic for a while, or run workers first.
    queue_periodic_jobs(current_app._get_current_object())
    runner = Worker(current_app._get_current_object(), threads=threads or config["JOBS_WORKER_THREADS"],
                    batch=batch or config["JOBS_BATCH_SIZE"], kinds=kinds,
                    poll_interval=config["JOBS_POLL_INTERVAL"], name="jobs-worker")
    if once:
        log.info("Ran %s job(s).", runner.run_until_idle())
        return

    def stop(signum, frame):
        log.info("Stopping after the running jobs...")
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Logged, not echoed: with LOG_FORMAT=json every line a worker writes is a JSON object.
    log.info("Job worker: %s thread(s), kinds: %s.", runner.threads, ", ".join(kinds) or "all")
    runner.run()


@jobs_cli.command("list")
@click.option("--failed", is_flag=True, help="Only failed jobs, with their errors.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def list_jobs(failed, limit):
    """Queue health by kind, then the newest unfinished (or failed) jobs."""
    stats = queue.queue_stats()
    now = utcnow()
    for (kind, state), (count, oldest) in sorted(stats.items()):
        age = int((now - oldest).total_seconds()) if oldest else 0
        click.echo(f"{kind:<32} {state:<8} {count:>7}  oldest {age}s ago")
    query = db.select(Job).order_by(Job.id.desc()).limit(limit)
    query = query.where(Job.state == FAILED) if failed else query.where(Job.state.not_in([DONE, FAILED]))
    for job in db.session.execute(query).scalars():
        click.echo(f"#{job.id:<8} {job.kind:<32} {job.state:<8} attempt {job.attempts}/{job.max_attempts}"
                   + (f"  {job.last_error}" if job.last_error else ""))


@jobs_cli.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Queue every failed job again.")
def retry(job_ids, all_failed):
    """Queue failed jobs again (by id, or all of them)."""
    if not (job_ids or all_failed):
        raise click.UsageError("Name job ids or --all-failed.")
    count = queue.retry_failed(None if all_failed else job_ids)
    db.session.commit()
    click.echo(f"Queued {count} failed job(s) again.")


@jobs_cli.command("purge")
@click.option("--days", default=7, show_default=True, type=click.IntRange(0, 3650),
              help="Delete finished (done) jobs older than this.")
def purge(days):
    """Delete finished jobs older than --days (failed jobs stay until they are retried)."""
    result = db.session.execute(db.delete(Job).where(Job.state == DONE,
                                                     Job.finished_at < utcnow() - timedelta(days=days)))
    db.session.commit()
    click.echo(f"Deleted {result.rowcount} finished job(s).")

"""Job kinds and their handlers.

A feature declares its background work next to the code it belongs to::

    @job_handler("knowledge.index_file", max_attempts=5, lease_seconds=300)
    def index_file(job):
        ...   # job.payload, job.attempt, job.heartbeat()

Handlers are plain functions of a ``JobContext``. They flush and never commit:
the runner commits their changes together with the job's completion.
"""
from collections.abc import Callable
from dataclasses import dataclass

_SPECS = {}


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Callable
    #: Give up (state ``failed``) after this many claims.
    max_attempts: int = 10
    #: How long a claim holds the job before another worker may take it over;
    #: long handlers call ``job.heartbeat()`` to extend it.
    lease_seconds: int = 60
    #: Retry delay: ``base * 2**(attempt-1)`` capped at ``cap``, with jitter.
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    #: Jobs of this kind claimed together run in one transaction, one savepoint each, and
    #: commit together (``webapp.jobs.worker.execute_together``): for short handlers whose
    #: commit would cost more than their work. Their outcome must survive being rolled back
    #: with the batch (a killed worker): the next try finds ``attempt > 1`` and checks first.
    commit_per_batch: bool = False
    #: Called once with the ``ClaimedJob`` list of such a batch before it runs, to load the rows
    #: the handlers need in one statement instead of one each; returns them (the runner holds
    #: them for the batch, so the session's identity map keeps them).
    prepare: Callable | None = None


def job_handler(kind, **options):
    """Register the decorated function as the handler of ``kind``."""

    def decorator(function):
        existing = _SPECS.get(kind)
        if existing is not None and existing.handler is not function:
            raise ValueError(f"job kind {kind!r} already has a handler: {existing.handler.__qualname__}")
        _SPECS[kind] = JobSpec(kind, function, **options)
        return function

    return decorator


def spec_for(kind):
    """The ``JobSpec`` of ``kind``, or None when no handler is registered."""
    return _SPECS.get(kind)


def registered_kinds():
    return sorted(_SPECS)

"""The ``jobs`` table: durable background work, claimed under a lease."""
from webapp.core.clock import utcnow
from webapp.extensions import db

#: Job states. ``queued`` jobs wait for ``run_after``; ``running`` ones are held
#: by a lease (``lease_until``) that another worker may take over once it lapses.
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        # The claim query: due queued jobs and lapsed leases, oldest first.
        db.Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id = db.Column(db.Integer, primary_key=True)
    #: Which handler runs it, e.g. ``knowledge.index_file`` (see ``webapp.jobs.registry``).
    kind = db.Column(db.String(100), nullable=False, index=True)
    #: The handler's arguments; ids, never ORM objects.
    payload = db.Column(db.JSON, nullable=False, default=dict)
    state = db.Column(db.String(20), nullable=False, default=QUEUED)
    #: Claims so far; incremented in the claim's own transaction, so a handler
    #: sees ``attempts > 1`` after any earlier try, even one killed mid-way.
    attempts = db.Column(db.Integer, nullable=False, default=0)
    max_attempts = db.Column(db.Integer, nullable=False, default=10)
    #: Not before this time (backoff after a failure).
    run_after = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: Held until then by the claim whose token is ``lease_token``.
    lease_until = db.Column(db.DateTime)
    lease_token = db.Column(db.String(32))
    #: ``host:pid:thread`` of the worker holding the lease (for people reading the table).
    leased_by = db.Column(db.String(120))
    #: At most one unfinished job per key (e.g. ``index-file:42``); NULL when finished.
    dedupe_key = db.Column(db.String(200), unique=True)
    #: The last failure, in words a person can act on.
    last_error = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime)

    def __repr__(self):
        return f"<Job {self.id} {self.kind} {self.state}>"

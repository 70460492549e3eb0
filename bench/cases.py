"""What the benchmark measures, and the goal each measurement is held to (issue 9).

A case is one line of ``CASES``: a URL, who asks, which server answers, and a
``Goal``. A new page or API adds a line. ``evaluate`` is pure: it turns one
measurement (and the baseline's) into a ``Verdict`` the report prints.
"""
from dataclasses import dataclass, field

#: "Bounded size": a page of results, not the table. Any fixed bound tells a
#: paginated response from one that grows with the data; 256 KiB leaves room
#: for a page of a hundred documents with their text.
PAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Goal:
    """What a case must reach; None means "not judged on this"."""

    #: Requests per second relative to the baseline case measured in the same run.
    min_ratio: float = None
    max_p99_ms: float = None
    #: Bytes of one response body.
    max_bytes: int = None
    #: How far the largest worker's peak RSS during the case rose above the largest RSS before it.
    max_rss_growth_mib: float = None

    def describe(self):
        parts = []
        if self.min_ratio is not None:
            parts.append(f"≥ {self.min_ratio:g}× baseline")
        if self.max_p99_ms is not None:
            parts.append(f"p99 ≤ {self.max_p99_ms:g} ms")
        if self.max_bytes is not None:
            parts.append(f"≤ {format_bytes(self.max_bytes)}")
        if self.max_rss_growth_mib is not None:
            parts.append(f"RSS +≤ {self.max_rss_growth_mib:g} MiB")
        return ", ".join(parts) or "—"


@dataclass(frozen=True)
class Case:
    """One URL under load.

    :param name: what ``--only`` takes.
    :param path: may name ``{small}`` and ``{big}``, the seeded stores.
    :param auth: who asks: None (anonymous), ``"member"`` or ``"admin"`` (a
        Storehouse session as ``Authorization: Token``), ``"bearer"`` (a
        Casdoor access token as ``Authorization: Bearer``).
    :param server: ``"main"`` or ``"cache off"`` (a second gunicorn with
        ``CASDOOR_TOKEN_CACHE_TTL=0``).
    :param quick: part of ``--quick``.
    """

    name: str
    label: str
    path: str
    auth: str = None
    goal: Goal = field(default_factory=Goal)
    server: str = "main"
    quick: bool = True
    is_baseline: bool = False


#: Fast cases first: a slow one may leave the server restarted (see run.finish_in_flight).
CASES = [
    Case("handshake", "`/api/v1/handshake/` (baseline)", "/api/v1/handshake/", is_baseline=True),
    Case("me-token", "`/api/v1/me/`, Token", "/api/v1/me/", "member", Goal(min_ratio=0.6)),
    Case("me-bearer", "`/api/v1/me/`, Bearer, cache warm", "/api/v1/me/", "bearer", Goal(min_ratio=0.6)),
    Case("me-bearer-nocache", "`/api/v1/me/`, Bearer, cache off", "/api/v1/me/", "bearer", Goal(min_ratio=0.3),
         server="cache off"),
    Case("stores-api", "`/api/v1/stores/`", "/api/v1/stores/", "member", Goal(max_bytes=PAGE_BYTES)),
    Case("store-home", "`/s/{small}/`, unbound user", "/s/{small}/", "member", Goal(max_p99_ms=50)),
    Case("documents-page", "`/s/{big}/documents/` (20k docs)", "/s/{big}/documents/", "member",
         Goal(max_p99_ms=50, max_bytes=PAGE_BYTES)),
    Case("documents-api", "`/api/v1/s/{big}/documents/` (20k docs)", "/api/v1/s/{big}/documents/", "member",
         Goal(max_p99_ms=50, max_bytes=PAGE_BYTES)),
    Case("admin-stores", "`/admin/stores/`, admin", "/admin/stores/", "admin", Goal(max_p99_ms=100)),
    Case("admin-users", "`/admin/users/`, admin", "/admin/users/", "admin",
         Goal(max_p99_ms=100, max_rss_growth_mib=64)),
    # A prefix few users share: the worst case of a scan that filters as it walks the username order.
    Case("admin-users-search", "`/admin/users/?q=user09999`, admin", "/admin/users/?q=user09999", "admin",
         Goal(max_p99_ms=100)),
    Case("admin-users-search-none", "`/admin/users/?q=nobody`, admin (no match)", "/admin/users/?q=nobody", "admin",
         Goal(max_p99_ms=100)),
]


def select_cases(cases, only=None, quick=False):
    """The cases to run, in list order; the baseline comes along when a chosen case is judged against it.

    :raises ValueError: ``only`` names a case that does not exist.
    """
    if only:
        names = {case.name for case in cases}
        unknown = [name for name in only if name not in names]
        if unknown:
            raise ValueError(f"no case {', '.join(unknown)}; the cases are: {', '.join(sorted(names))}")
        chosen = [case for case in cases if case.name in only]
        if any(case.goal.min_ratio is not None for case in chosen):
            chosen = [case for case in cases if case.is_baseline or case in chosen]
        return chosen
    return [case for case in cases if case.quick or not quick]


@dataclass
class Measurement:
    """What one case produced.

    ``error`` set: the case failed (no verdict on speed). ``skipped`` set: the
    load was not run because one request alone outlasted the whole run.
    """

    case: Case
    #: Milliseconds of the probe: the first request, alone, before the load (caches cold).
    probe_ms: float = None
    requests: int = 0
    requests_per_s: float = 0.0
    p50_ms: float = None
    p99_ms: float = None
    #: Body bytes of one response (from the probe request).
    body_bytes: int = None
    error_responses: int = 0
    socket_errors: int = 0
    #: Largest worker RSS before the case, largest peak during it and largest RSS after it, in KiB.
    rss_before_kib: int = None
    rss_peak_kib: int = None
    rss_after_kib: int = None
    #: CPU seconds each worker spent during the run, busiest first.
    worker_cpu_s: list = field(default_factory=list)
    #: Runs made: a ratio case whose load landed on one worker is run again (see is_uneven).
    attempts: int = 0
    #: Seconds the server needed after the run to finish what wrk left in flight.
    settle_s: float = 0.0
    #: Requests still in flight when the server was given up on and restarted.
    abandoned: int = 0
    skipped: str = None
    error: str = None

    @property
    def was_loaded(self):
        return self.error is None and self.skipped is None


#: A run is uneven when its busiest worker did more than this share of the workers' CPU time.
UNEVEN_SHARE = 0.8


def is_uneven(worker_cpu_s, minimum_s=0.2):
    """True when one worker did nearly all the work of a run (``worker_cpu_s``: CPU seconds per worker).

    gunicorn's workers accept connections as they happen to wake up, and wrk
    keeps its connections open, so on a busy machine one worker may get all
    of them and the run measures a server of one worker.
    """
    total = sum(worker_cpu_s)
    return len(worker_cpu_s) > 1 and total >= minimum_s and max(worker_cpu_s) > UNEVEN_SHARE * total


def is_compared_by_ratio(case):
    """The baseline and the cases judged against it must run on the same number of workers."""
    return case.is_baseline or case.goal.min_ratio is not None


@dataclass(frozen=True)
class Verdict:
    #: True met, False missed or failed, None nothing to judge (or no baseline to judge by).
    met: bool
    text: str


def failure_of(measurement):
    """Why a measurement cannot be judged as fast or slow at all, or None."""
    if measurement.error:
        return measurement.error
    problems = []
    if measurement.error_responses:
        problems.append(f"{measurement.error_responses} error responses (4xx/5xx)")
    if measurement.socket_errors:
        problems.append(f"{measurement.socket_errors} socket errors/timeouts")
    return "; ".join(problems) or None


def ratio_to(measurement, baseline):
    """req/s of ``measurement`` over the baseline's, or None without a usable baseline."""
    if baseline is None or failure_of(baseline) or not baseline.was_loaded or not baseline.requests_per_s:
        return None
    return measurement.requests_per_s / baseline.requests_per_s


def evaluate(measurement, baseline=None):
    """The ``Verdict`` of ``measurement`` against its case's goal.

    A case with errors is FAILED whatever its speed: an error page is fast.
    A case whose load was skipped, or in which no request finished, misses
    any latency or throughput goal it has.
    """
    failure = failure_of(measurement)
    if failure:
        return Verdict(False, f"FAILED: {failure}")
    goal = measurement.case.goal
    if goal == Goal():
        return Verdict(None, "—")
    misses, unknown = [], []
    judged_on_time = goal.min_ratio is not None or goal.max_p99_ms is not None
    if measurement.skipped or measurement.requests == 0:
        if judged_on_time:
            misses.append(measurement.skipped or
                          f"no response finished within the run (probe {format_ms(measurement.probe_ms)} ms)")
    else:
        if goal.min_ratio is not None:
            ratio = ratio_to(measurement, baseline)
            if ratio is None:
                unknown.append("no baseline")
            elif ratio < goal.min_ratio:
                misses.append(f"{ratio:.2f}× < {goal.min_ratio:g}×")
        if goal.max_p99_ms is not None and measurement.p99_ms > goal.max_p99_ms:
            misses.append(f"p99 {format_ms(measurement.p99_ms)} ms > {goal.max_p99_ms:g} ms")
    misses += _size_and_memory_misses(goal, measurement)
    if misses:
        return Verdict(False, "MISSED: " + "; ".join(misses))
    if unknown:
        return Verdict(None, "? " + "; ".join(unknown))
    return Verdict(True, "met" + (" (not loaded)" if measurement.skipped else ""))


def _size_and_memory_misses(goal, measurement):
    misses = []
    if goal.max_bytes is not None and measurement.body_bytes is not None and measurement.body_bytes > goal.max_bytes:
        misses.append(f"{format_bytes(measurement.body_bytes)} > {format_bytes(goal.max_bytes)}")
    if goal.max_rss_growth_mib is not None and None not in (measurement.rss_before_kib, measurement.rss_peak_kib):
        growth = (measurement.rss_peak_kib - measurement.rss_before_kib) / 1024
        if growth > goal.max_rss_growth_mib:
            misses.append(f"RSS +{growth:.0f} MiB > {goal.max_rss_growth_mib:g} MiB")
    return misses


def format_ms(value):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_bytes(value):
    if value is None:
        return "—"
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.1f} MiB"
    if value >= 10 * 1024:
        return f"{value / 1024:.0f} KiB"
    return f"{value:,} B"

"""The Markdown the benchmark prints and saves (pure functions of the measurements)."""
from bench.cases import evaluate, failure_of, format_bytes, format_ms, ratio_to

HEADER = ("case", "req/s", "p50 ms", "p99 ms", "× baseline", "bytes/response", "requests", "probe ms", "goal",
          "met?")


def baseline_of(measurements):
    return next((m for m in measurements if m.case.is_baseline), None)


def table_row(measurement, baseline, stores):
    """The cells of one measurement's row (a failed case shows what it has, and says FAILED)."""
    verdict = evaluate(measurement, baseline)
    ran = measurement.was_loaded
    # No finished request: wrk's rate is 0 and its percentiles are placeholders, not latencies.
    timed = ran and measurement.requests > 0
    ratio = ratio_to(measurement, baseline) if ran and not measurement.case.is_baseline else None
    return (
        measurement.case.label.format(small=stores["small"], big=stores["big"]),
        f"{measurement.requests_per_s:,.1f}" if ran else "—",
        format_ms(measurement.p50_ms) if timed else "—",
        format_ms(measurement.p99_ms) if timed else "—",
        "1.00" if measurement.case.is_baseline and timed and not failure_of(measurement) else
        (f"{ratio:.2f}" if ratio is not None else "—"),
        format_bytes(measurement.body_bytes),
        f"{measurement.requests:,}" if ran else "—",
        format_ms(measurement.probe_ms),
        measurement.case.goal.describe() if not measurement.case.is_baseline else "(the reference)",
        verdict.text,
    )


def render_table(measurements, stores=None):
    """A Markdown table, one row per measurement, in the order given.

    :param stores: the names that fill ``{small}`` and ``{big}`` in the case labels.
    """
    stores = stores or {"small": "small", "big": "big"}
    baseline = baseline_of(measurements)
    rows = [HEADER] + [table_row(m, baseline, stores) for m in measurements]
    numeric = {1, 2, 3, 4, 5, 6, 7}
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(cells):
        padded = [cell.rjust(width) if i in numeric else cell.ljust(width)
                  for i, (cell, width) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    separator = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                               for i, w in enumerate(widths)) + "|"
    return "\n".join([line(rows[0]), separator] + [line(row) for row in rows[1:]])


def summary_line(measurements):
    """How many goals were met, and how many cases failed outright."""
    verdicts = [evaluate(m, baseline_of(measurements)) for m in measurements]
    judged = [v for v in verdicts if v.met is not None]
    failed = sum(v.text.startswith("FAILED") for v in verdicts)
    met = sum(v.met is True for v in verdicts)
    return (f"Goals met: {met} of {len(judged)} judged cases"
            + (f" ({failed} FAILED with errors)" if failed else "") + ".")


def mib(kib):
    return "—" if kib is None else f"{kib / 1024:,.0f} MiB"


def render_memory(snapshots):
    """``snapshots``: ``[(server name, when, [WorkerMemory])]`` -> a Markdown table of each worker's RSS."""
    lines = ["| server | when | worker pid | RSS |", "|---|---|---:|---:|"]
    for server, when, workers in snapshots:
        for worker in workers:
            lines.append(f"| {server} | {when} | {worker.pid} | {mib(worker.rss_kib)} |")
    return "\n".join(lines)


def render_case_memory(measurements):
    """Per case: the largest worker RSS before it, the largest peak during it, the largest RSS after it."""
    lines = ["| case | RSS before | peak during | RSS after |", "|---|---:|---:|---:|"]
    for m in measurements:
        lines.append(f"| {m.case.name} | {mib(m.rss_before_kib)} | {mib(m.rss_peak_kib)} | {mib(m.rss_after_kib)} |")
    return "\n".join(lines)


def render_report(*, facts, measurements, memory, notes=(), stores=None):
    """The whole report: machine and run facts, the table, worker memory, notes."""
    parts = ["# Storehouse benchmark", ""]
    parts += [f"- {name}: {value}" for name, value in facts]
    parts += ["", render_table(measurements, stores), "", summary_line(measurements), "",
              "## Worker memory (VmRSS, and VmHWM reset before each case, from /proc/<pid>/status)", "",
              render_case_memory(measurements), "", render_memory(memory)]
    if notes:
        parts += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(parts) + "\n"

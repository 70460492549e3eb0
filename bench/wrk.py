"""Driving wrk (Debian's ``wrk`` package) and reading what it prints.

One run is ``wrk -t<threads> -c<connections> -d<seconds>s --latency -s <script>``
where the Lua script only sets the request's headers. ``parse_output`` turns
wrk's text into a ``WrkResult``; it is pure so that it can be tested on
captured output.

Two things wrk does that a reader of its numbers must know: a response with
status 400 or more counts as a request (with its latency) and only shows up
in "Non-2xx or 3xx responses"; and requests still in flight when the time is
up, or that hit ``--timeout``, are left out of the latency figures. The
runner therefore treats any error count as a failed case and gives wrk a
timeout no shorter than the run.
"""
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_BINARY_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed something we cannot read."""


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    bytes_read: int
    requests_per_s: float
    #: Latency percentiles in milliseconds: {50: ..., 75: ..., 90: ..., 99: ...}.
    percentiles_ms: dict
    #: Socket errors by kind: connect, read, write, timeout.
    socket_errors: dict = field(default_factory=dict)
    #: Responses with a status of 400 or more (wrk calls them "Non-2xx or 3xx").
    error_responses: int = 0

    @property
    def p50_ms(self):
        return self.percentiles_ms.get(50)

    @property
    def p99_ms(self):
        return self.percentiles_ms.get(99)

    @property
    def socket_error_count(self):
        return sum(self.socket_errors.values())


def to_ms(value, unit):
    """wrk's time (``value`` with unit us, ms, s, m or h) in milliseconds."""
    return float(value) * _TIME_UNITS_MS[unit]


def parse_output(text):
    """A ``WrkResult`` from the text ``wrk --latency`` printed.

    :raises WrkError: the text lacks the summary lines (wrk failed or printed
        something else, e.g. its usage).
    """
    summary = re.search(r"^\s*(\d+) requests in " + _TIME + r", ([\d.]+)([KMGTP]?)B read", text, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+|-?nan|inf)", text, re.M)
    if summary is None or rate is None:
        raise WrkError(f"cannot read wrk's output:\n{text.strip()}")
    percentiles = {
        int(match.group(1)): to_ms(match.group(2), match.group(3))
        for match in re.finditer(r"^\s+(\d+)%\s+" + _TIME + r"\s*$", text, re.M)
    }
    if not percentiles and "Latency Distribution" not in text:
        raise WrkError("wrk printed no latency distribution: run it with --latency")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)) \
        if errors else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    requests_per_s = rate.group(1)
    return WrkResult(
        requests=int(summary.group(1)),
        duration_s=to_ms(summary.group(2), summary.group(3)) / 1000,
        bytes_read=round(float(summary.group(4)) * _BINARY_UNITS[summary.group(5)]),
        requests_per_s=float(requests_per_s) if requests_per_s[0].isdigit() else 0.0,
        percentiles_ms=percentiles,
        socket_errors=socket_errors,
        error_responses=int(status.group(1)) if status else 0,
    )


def lua_script(headers):
    """A wrk script that sends ``headers`` with every request."""
    lines = ['wrk.method = "GET"']
    for name, value in headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    return "\n".join(lines) + "\n"


def _lua_string(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrk_binary():
    """The path of wrk. :raises WrkError: not installed, with what to do."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed: `make bench` installs Debian's wrk package when run as root, "
                       "or run `apt-get install wrk`.")
    return path


def wrk_version():
    result = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True, check=False)
    first = (result.stdout or result.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk"


def wrk_command(url, script_path, *, connections, duration_s, threads=1, timeout_s=None):
    timeout_s = max(timeout_s or 0, duration_s + 5)
    return [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", f"--timeout={timeout_s}s",
            "--latency", "-s", str(script_path), url]


def run_wrk(url, headers, *, connections, duration_s, threads=1, workdir):
    """Run wrk once; returns ``(WrkResult, raw output, command)``.

    :raises WrkError: wrk exited with an error or printed no summary.
    """
    script = Path(workdir) / "headers.lua"
    script.write_text(lua_script(headers))
    command = wrk_command(url, script, connections=connections, duration_s=duration_s, threads=threads)
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=duration_s + 120)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise WrkError(f"wrk exited with status {result.returncode}:\n{output.strip()}")
    return parse_output(output), output, command

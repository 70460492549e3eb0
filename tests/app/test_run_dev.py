"""``make run`` (scripts/run-dev.sh) with a port already taken: it says who holds it and stops."""
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run-dev.sh"


@pytest.fixture
def held_port():
    """A port on 127.0.0.1 that this test process listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_dev(**env):
    """Run the script; a script that does not stop in time is killed with everything it started."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CASDOOR_")}
    environment.update(env)
    process = subprocess.Popen(["bash", str(SCRIPT)], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"run-dev.sh went on instead of stopping:\n{output}")
    return process.returncode, output


def test_a_taken_app_port_stops_before_anything_starts(held_port):
    code, output = run_dev(PORT=str(held_port), DEV_CASDOOR_PORT=str(free_port()))
    assert code == 1, output
    assert f"Port {held_port} (Storehouse) is already in use by" in output
    assert f"pid {os.getpid()}" in output or "ss -ltnp" in output
    assert f"PORT={held_port + 1} make run" in output
    assert "Development Casdoor server:" not in output and "Storehouse: http" not in output


def test_a_taken_casdoor_port_names_dev_casdoor_port(held_port):
    code, output = run_dev(PORT=str(free_port()), DEV_CASDOOR_PORT=str(held_port))
    assert code == 1, output
    assert f"Port {held_port} (the development Casdoor server) is already in use by" in output
    assert f"DEV_CASDOOR_PORT={held_port + 1} make run" in output
    assert "Development Casdoor server:" not in output


def test_the_same_port_twice_is_refused():
    port = str(free_port())
    code, output = run_dev(PORT=port, DEV_CASDOOR_PORT=port)
    assert code == 1 and "both" in output


def test_a_port_that_is_no_number_is_refused():
    code, output = run_dev(PORT="50x0")
    assert code == 1 and "PORT=50x0 is not a port number" in output

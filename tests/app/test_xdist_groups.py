"""Under ``-n 2 --dist loadgroup``, the ``serial`` tests run in one worker, the llama.cpp server's
tests in one, and the other tests on both workers (``tests.support.xdist_groups``).

A small suite of its own, run by pytest in a subprocess with that plugin, records which worker
ran each of its tests.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = '''
import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.xdist_groups"]


@pytest.fixture
def llama_server():
    return None


@pytest.fixture(autouse=True)
def record_worker(request):
    Path(os.environ["WORKER_LOG"], request.node.name).write_text(os.environ["PYTEST_XDIST_WORKER"])
'''

TESTS = '''
import time

import pytest


@pytest.mark.serial
@pytest.mark.parametrize("n", range(4))
def test_serial(n):
    pass


@pytest.mark.serial
def test_serial_with_llama_server(llama_server):
    pass


@pytest.mark.parametrize("n", range(3))
def test_llama(n, llama_server):
    pass


@pytest.mark.parametrize("n", range(12))
def test_plain(n):
    time.sleep(0.2)
'''


@pytest.mark.serial
def test_serial_and_llama_server_tests_each_stay_in_one_worker_and_the_rest_spread(tmp_path):
    suite, log = tmp_path / "suite", tmp_path / "log"
    suite.mkdir()
    log.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nmarkers =\n    serial: one worker\n")
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_grouped.py").write_text(TESTS)
    # The suite's own run, not this worker's: no xdist or pytest settings of ours leak into it.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "COV_"))}
    env.update(PYTHONPATH=str(ROOT), WORKER_LOG=str(log))
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                          "-q", suite], cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    worker = {path.name: path.read_text() for path in log.iterdir()}
    assert len(worker) == 20, worker

    def workers_of(prefix):
        return {w for name, w in worker.items() if name.startswith(prefix)}

    assert len(workers_of("test_serial")) == 1, worker
    assert len(workers_of("test_llama")) == 1, worker
    assert workers_of("test_plain") == {"gw0", "gw1"}, worker

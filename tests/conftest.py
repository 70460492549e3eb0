"""Fixtures for every test live in ``tests.support.fixtures``; helpers in ``tests.support``.

This file also gives the test process an instance folder of its own and, when the suite runs in
parallel (``make test``: pytest-xdist, ``--dist loadgroup``), keeps some tests together in one
worker: see ``pytest_itemcollected``.
"""
import os
import shutil
import tempfile

import pytest

# Before ``config`` is imported (by the fixture modules below): everything a test process would
# keep on disk (the generated secret key, files, models) goes to a folder of its own, not to the
# checkout's ``instance/`` (or INSTANCE_PATH's), which a developer's ``make run`` uses and several
# workers would share. Servers the tests start as subprocesses inherit it.
_INSTANCE = tempfile.mkdtemp(prefix="storehouse-test-instance-")
os.environ["INSTANCE_PATH"] = _INSTANCE

# Helpers assert too: let pytest explain their failures as it does a test's.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.fixtures.app",
    "tests.support.fixtures.factories",
    "tests.support.fixtures.casdoor",
    "tests.support.fixtures.models",
    "tests.support.fixtures.browser",
    "tests.support.fixtures.clock",
    "tests.support.fixtures.s3",
]


def pytest_itemcollected(item):
    """Under pytest-xdist, put into one ``xdist_group`` (one worker, one after another):

    * the tests marked ``serial`` (several processes or hosts, many threads at once, timing):
      they never run beside each other, only beside ordinary tests of the other workers;
    * the tests that use the llama.cpp server, so that the run starts one (a second would
      load the model again and compete for the same cores).

    Done as each test is collected, before pytest-xdist reads the groups. pytest-xdist 3.8 applies
    a group by renaming ``item._nodeid``, which pytest 9 no longer reads: until it follows, the
    groups are not applied and these tests are spread over the workers (they pass so too).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if item.get_closest_marker("serial"):
        item.add_marker(pytest.mark.xdist_group("serial"))
    elif "llama_server" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.xdist_group("llama-server"))


def pytest_unconfigure(config):
    shutil.rmtree(_INSTANCE, ignore_errors=True)

"""Fixtures for every test live in ``tests.support.fixtures``; helpers in ``tests.support``.

This file also gives the test process an instance folder of its own. When the suite runs in
parallel (``make test``: pytest-xdist, ``--dist loadgroup``), ``tests.support.xdist_groups`` keeps
the ``serial`` tests in one worker, one after another, and the llama.cpp server's tests in one.
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
    "tests.support.xdist_groups",
]


def pytest_unconfigure(config):
    shutil.rmtree(_INSTANCE, ignore_errors=True)

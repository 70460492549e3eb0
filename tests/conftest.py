"""Fixtures for every test live in ``tests.support.fixtures``; helpers in ``tests.support``."""
import pytest

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

"""Fixtures for the devcasdoor conformance tests: one server per session, reset per test."""
import pytest
import requests

from devcasdoor.testing import DevCasdoor


@pytest.fixture(scope="session")
def dev_casdoor(tmp_path_factory):
    with DevCasdoor(state_dir=tmp_path_factory.mktemp("devcasdoor"), webhook_poll_seconds=0.05) as dev:
        yield dev


@pytest.fixture(autouse=True)
def _fresh_state(request):
    """Every test starts from the seed (same keys), without faults or webhooks."""
    if "dev_casdoor" in request.fixturenames:
        dev = request.getfixturevalue("dev_casdoor")
        dev.controls.reset()
    yield


@pytest.fixture
def dev(dev_casdoor):
    return dev_casdoor


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session

"""Fixtures shared by the billing tests."""
import pytest


@pytest.fixture
def store(create_store):
    """The store the answers are given in: "research"."""
    return create_store("research")

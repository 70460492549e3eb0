"""Fixtures the chat tests share (helpers that are not fixtures are in ``tests.support.chat``)."""
import pytest

from tests.support.client import csrf_token


@pytest.fixture
def person(app, create_user, create_store, grant, login, client):
    """``(user, store)``: member "asker" of store "research", signed in on ``client``, which sends
    the session's CSRF token with every request."""
    store = create_store("research")
    user = create_user("asker")
    grant(user, store)
    login(client, user)
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    return user, store

"""Settings > Sessions: list and revoke one's own sessions."""
import re

from tests.support.client import post_form


def test_sessions_are_listed_and_can_be_revoked(client, app, create_user, login):
    user = create_user()
    login(client, user)
    api_token = app.test_client().post("/api/v1/auth/login/", json={"email": user.email,
                                                                     "password": user.plain_password}).json["token"]
    page = client.get("/settings/sessions/").get_data(as_text=True)
    assert page.count('data-testid="session-row"') == 2 and "this browser" in page
    assert api_token not in page  # keys are never shown; only their rows
    ids = [int(i) for i in re.findall(r"/settings/sessions/(\d+)/revoke", page)]
    api_client = app.test_client()
    headers = {"Authorization": f"Token {api_token}"}
    assert api_client.get("/api/v1/me/", headers=headers).status_code == 200
    # Revoke the one that is not this browser: the API token stops working.
    for session_id in ids:
        response = post_form(client, f"/settings/sessions/{session_id}/revoke")
        if response.headers["Location"] == "/settings/sessions/":
            break
    assert api_client.get("/api/v1/me/", headers=headers).status_code == 401
    assert client.get("/api/v1/me/").status_code == 200


def test_another_users_session_is_404(client, app, create_user, login, db):
    from webapp.sessions.models import Session
    owner, other = create_user(), create_user()
    other_client = app.test_client()
    login(other_client, other)
    login(client, owner)
    other_row = db.session.execute(db.select(Session).filter_by(user_id=other.id)).scalars().first()
    assert post_form(client, f"/settings/sessions/{other_row.id}/revoke").status_code == 404
    assert other_client.get("/api/v1/me/").status_code == 200


def test_revoking_this_browser_signs_it_out(client, create_user, login):
    login(client, create_user())
    page = client.get("/settings/sessions/").get_data(as_text=True)
    session_id = re.findall(r"/settings/sessions/(\d+)/revoke", page)[0]
    response = post_form(client, f"/settings/sessions/{session_id}/revoke")
    assert response.headers["Location"] == "/auth/login"
    assert client.get("/api/v1/me/").status_code == 401

"""Casdoor single sign-on against the development Casdoor server over loopback."""
import logging
from datetime import timedelta

import pytest

from tests.support.casdoor import DEMO_PASSWORD, authorize_at_casdoor, local_path, sso_sign_in
from tests.support.client import post_form, session_cookie
from webapp.core.clock import utcnow
from webapp.users.models import User

TOKEN_FORMATS = ["storehouse", "storehouse-standard", "storehouse-empty", "storehouse-custom"]


@pytest.fixture
def app_config(sso_app_config):
    return sso_app_config


def user_named(db, username):
    db.session.expire_all()
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()


@pytest.mark.parametrize("casdoor_overrides", [{"application": name} for name in TOKEN_FORMATS],
                         ids=TOKEN_FORMATS)
def test_sign_in_provisions_the_user_for_every_token_format(client, db, casdoor_overrides):
    response = sso_sign_in(client, "alice")
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json["auth_method"] == "casdoor"
    alice = user_named(db, "alice")
    assert alice is not None and alice.casdoor_sub
    # Homepage and groups are in the JWT format; the others make us ask Casdoor.
    assert alice.casdoor_homepage == "research"
    assert alice.casdoor_groups == ["storehouse/staff"]
    assert alice.email and alice.email.endswith("@storehouse.test") or "@" in (alice.email or "")
    assert alice.display_name and alice.display_name != ""
    assert alice.casdoor_org == "storehouse" and alice.casdoor_name == "alice"
    assert alice.password_hash is None


def test_sign_in_page_leads_with_the_sso_button(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Continue with Casdoor SSO" in page
    assert "Use email / password instead" in page


def test_authorize_request_uses_pkce_state_and_nonce(client, casdoor):
    start = client.get("/auth/casdoor/login")
    from urllib.parse import parse_qs, urlsplit
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"] == ["openid profile email"]
    assert query["redirect_uri"] == ["http://localhost/auth/casdoor/callback"]
    assert start.headers["Location"].startswith(casdoor.url + "/login/oauth/authorize")


def test_sign_in_rotates_the_session_and_keeps_jwts_out_of_the_cookie(client, app):
    client.get("/auth/login")
    before = session_cookie(client, app)
    sso_sign_in(client, "bob")
    after = session_cookie(client, app)
    assert before and after and before != after
    assert len(after) < 100


def test_next_survives_the_round_trip_and_is_validated(client):
    assert sso_sign_in(client, "bob", next_url="/settings/accounts/").headers["Location"] == "/settings/accounts/"
    client2 = client.application.test_client()
    assert sso_sign_in(client2, "bob", next_url="https://evil.example/").headers["Location"] == "/"


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}])
def test_group_gate_refuses_users_outside_the_required_groups(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="webapp.auth.casdoor")
    response = sso_sign_in(client, "carol")
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "Cannot sign in: Casdoor user &#39;carol&#39; is not a member of any required group (storehouse/staff)" in text
    assert user_named(db, "carol") is None
    assert any(r.name == "webapp.auth.casdoor" and r.levelno == logging.WARNING and "carol" in r.getMessage()
               for r in caplog.records)
    assert client.get("/api/v1/me/").status_code == 401
    assert sso_sign_in(client, "bob").status_code == 302


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_REQUIRED_GROUPS": "Storehouse/Staff"}])
def test_group_match_is_exact_and_case_sensitive(client):
    assert sso_sign_in(client, "bob").status_code == 403


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_ADMIN_GROUPS": "storehouse/contractors"}])
def test_admin_comes_from_is_admin_or_admin_groups(client, db):
    sso_sign_in(client, "admin")
    assert user_named(db, "admin").casdoor_is_admin
    other = client.application.test_client()
    sso_sign_in(other, "carol")
    assert user_named(db, "carol").is_effective_admin
    third = client.application.test_client()
    sso_sign_in(third, "bob")
    assert not user_named(db, "bob").is_effective_admin


@pytest.mark.parametrize("casdoor_overrides", [{
    "CASDOOR_CLAIM_USERNAME": "missing_claim,email",
    "CASDOOR_CLAIM_DISPLAY_NAME": "nothing_here,firstName",
}])
def test_claim_lists_take_the_first_non_empty_claim(client, db, casdoor):
    sso_sign_in(client, "bob")
    db.session.expire_all()
    bob = db.session.execute(db.select(User).filter(User.casdoor_name == "bob")).scalar_one()
    bob_at_casdoor = {u["name"]: u for u in casdoor.controls.users()}["bob"]
    assert bob.username.startswith(bob_at_casdoor["email"].split("@")[0])
    assert bob.display_name == bob_at_casdoor["firstName"]


def test_profile_sync_is_throttled_and_never_rewrites_the_username(client, db, casdoor):
    sso_sign_in(client, "bob")
    bob = user_named(db, "bob")
    first_name = bob.display_name
    casdoor.controls.patch_user("storehouse", "bob", displayName="Robert Renamed", homepage="research",
                                groups=["storehouse/staff", "storehouse/contractors"])
    sso_sign_in(client.application.test_client(), "bob")
    bob = user_named(db, "bob")
    assert bob.display_name == first_name  # within 5 minutes: no profile write
    # ... but the binding and groups are refreshed at every sign-in.
    assert bob.casdoor_homepage == "research"
    assert bob.casdoor_groups == ["storehouse/staff", "storehouse/contractors"]

    bob.casdoor_profile_synced_at = utcnow() - timedelta(minutes=6)
    db.session.commit()
    sso_sign_in(client.application.test_client(), "bob")
    bob = user_named(db, "bob")
    assert bob.display_name == "Robert Renamed"
    assert bob.username == "bob"


def test_a_matching_local_email_is_never_linked_silently(client, db, create_user, casdoor):
    alice_email = {u["name"]: u for u in casdoor.controls.users()}["alice"]["email"]
    local = create_user("alice-local", email=alice_email, password="local-password-1")
    response = sso_sign_in(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/casdoor/link-account"
    assert client.get("/api/v1/me/").status_code == 401
    page = client.get("/auth/casdoor/link-account").get_data(as_text=True)
    assert "never linked on an email match alone" in page and "alice-local" in page

    wrong = post_form(client, "/auth/casdoor/link-account", {"action": "link", "password": "nope"})
    assert wrong.status_code == 401
    assert "Wrong email or password" in wrong.get_data(as_text=True)
    assert user_named(db, "alice-local").casdoor_sub is None

    right = post_form(client, "/auth/casdoor/link-account", {"action": "link", "password": "local-password-1"})
    assert right.status_code == 302
    linked = user_named(db, "alice-local")
    assert linked.casdoor_sub and linked.id == local.id
    assert client.get("/api/v1/me/").json["user"]["username"] == "alice-local"


def test_not_mine_creates_a_separate_account(client, db, create_user, casdoor):
    alice_email = {u["name"]: u for u in casdoor.controls.users()}["alice"]["email"]
    create_user("alice", email=alice_email)
    sso_sign_in(client, "alice")
    response = post_form(client, "/auth/casdoor/link-account", {"action": "create"})
    assert response.status_code == 302
    me = client.get("/api/v1/me/").json["user"]
    assert me["username"] == "alice-2" and me["email"] is None and me["casdoor_linked"]
    assert user_named(db, "alice").casdoor_sub is None


def test_link_and_409_and_unlink_on_connected_accounts(client, db, create_user, login, app):
    from tests.support.casdoor import sso_link

    owner = create_user("owner")
    login(client, owner)
    assert "Link Casdoor" in client.get("/settings/accounts/").get_data(as_text=True)
    response = sso_link(client, "bob")
    assert response.status_code == 302 and response.headers["Location"] == "/settings/accounts/"
    page = client.get("/settings/accounts/").get_data(as_text=True)
    assert "Linked Casdoor account storehouse/bob." in page and "storehouse/bob" in page

    intruder_client = app.test_client()
    intruder = create_user("intruder")
    login(intruder_client, intruder)
    conflict = sso_link(intruder_client, "bob")
    assert conflict.status_code == 409
    assert "already linked to another Storehouse account" in conflict.get_data(as_text=True)
    assert user_named(db, "intruder").casdoor_sub is None

    unlinked = post_form(client, "/settings/accounts/casdoor/unlink")
    assert unlinked.status_code == 302
    assert "Unlinked your Casdoor account" in client.get("/settings/accounts/").get_data(as_text=True)
    assert user_named(db, "owner").casdoor_sub is None


def test_unlinking_the_only_way_in_is_refused(client, db):
    sso_sign_in(client, "bob")
    response = post_form(client, "/settings/accounts/casdoor/unlink", follow_redirects=True)
    assert "Casdoor is the only way you can sign in to this account" in response.get_data(as_text=True)
    assert user_named(db, "bob").casdoor_sub is not None
    post_form(client, "/settings/password", {"password": "now-a-password", "confirm": "now-a-password"})
    response = post_form(client, "/settings/accounts/casdoor/unlink", follow_redirects=True)
    assert "Unlinked your Casdoor account" in response.get_data(as_text=True)
    bob = user_named(db, "bob")
    assert bob.casdoor_sub is None
    assert bob.casdoor_homepage is None or bob.casdoor_homepage == ""  # bob has no Homepage


def test_unlinking_keeps_a_store_binding(client, db):
    sso_sign_in(client, "alice")
    post_form(client, "/settings/password", {"password": "now-a-password", "confirm": "now-a-password"})
    post_form(client, "/settings/accounts/casdoor/unlink")
    alice = user_named(db, "alice")
    assert alice.casdoor_sub is None and alice.casdoor_homepage == "research"


def test_sign_out_ends_the_local_then_the_casdoor_session(client, casdoor):
    sso_sign_in(client, "bob")
    response = post_form(client, "/auth/logout")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(casdoor.url + "/api/logout?")
    assert "id_token_hint=" in location and "post_logout_redirect_uri=" in location
    assert client.get("/api/v1/me/").status_code == 401
    import requests
    back = requests.get(location, allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"].startswith("http://localhost/auth/login")


def test_casdoor_error_parameter_is_explained(client):
    client.get("/auth/casdoor/login")
    response = client.get("/auth/casdoor/callback?error=access_denied&error_description=User+denied+consent&state=x")
    assert response.status_code == 401
    assert "the sign-in was declined at Casdoor" in response.get_data(as_text=True)


def test_error_description_from_the_link_is_never_echoed(client):
    """Anyone can craft the callback link: its text must not appear as Casdoor's words."""
    client.get("/auth/casdoor/login")
    response = client.get("/auth/casdoor/callback", query_string={
        "error": "server_error<script>", "state": "x",
        "error_description": "Your account is locked. Call +1-555-0100 to unlock it"})
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "555-0100" not in page and "<script>" not in page
    assert "error code server_errorscript" in page


def test_unknown_or_replayed_state_says_start_again(client):
    client.get("/auth/casdoor/login")
    response = client.get("/auth/casdoor/callback?code=0123456789abcdef0123&state=forged-state")
    assert response.status_code == 400
    assert "expired or was already used" in response.get_data(as_text=True)


def test_replayed_code_is_refused(client, app):
    start = client.get("/auth/casdoor/login")
    callback = authorize_at_casdoor(start.headers["Location"], "bob")
    assert client.get(local_path(callback)).status_code == 302
    # Same callback again: its state was consumed.
    again = app.test_client().get(local_path(callback))
    assert again.status_code == 400
    # The same code under a fresh, valid state: Casdoor refuses the used code.
    attacker = app.test_client()
    start2 = attacker.get("/auth/casdoor/login")
    from urllib.parse import parse_qs, urlsplit
    state2 = parse_qs(urlsplit(start2.headers["Location"]).query)["state"][0]
    code1 = parse_qs(urlsplit(callback).query)["code"][0]
    replay = attacker.get(f"/auth/casdoor/callback?code={code1}&state={state2}")
    assert replay.status_code == 401
    assert "Casdoor refused the sign-in code" in replay.get_data(as_text=True)
    assert attacker.get("/api/v1/me/").status_code == 401


def test_casdoor_down_gives_a_503_naming_the_endpoint(make_app, migrated):
    from tests.support.casdoor import demo_application
    app = make_app(CASDOOR_ENDPOINT="http://127.0.0.1:9", CASDOOR_CLIENT_ID=demo_application("storehouse")["clientId"],
                   CASDOOR_CLIENT_SECRET="x", CASDOOR_ORG_NAME="storehouse", CASDOOR_APP_NAME="storehouse")
    response = app.test_client().get("/auth/casdoor/login")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "Casdoor at http://127.0.0.1:9 did not answer" in text and "Traceback" not in text


@pytest.mark.parametrize("casdoor_overrides", [{"CASDOOR_TIMEOUT": 0.5}])
def test_casdoor_slow_gives_a_503(client, casdoor):
    casdoor.controls.inject_fault("/.well-known/openid-configuration", "delay", count=1, seconds=2)
    response = client.get("/auth/casdoor/login")
    assert response.status_code == 503
    assert "no answer within 0.5 s" in response.get_data(as_text=True)


def test_forbidden_user_cannot_sign_in(client, casdoor, db):
    sso_sign_in(client, "bob")
    casdoor.controls.patch_user("storehouse", "bob", isForbidden=True)
    other = client.application.test_client()
    start = other.get("/auth/casdoor/login")
    page_or_redirect = None
    import requests
    answer = requests.post(start.headers["Location"], data={"username": "bob", "password": DEMO_PASSWORD},
                           allow_redirects=False, timeout=5)
    page_or_redirect = answer.status_code
    # Casdoor itself refuses a forbidden user: no code comes back.
    assert page_or_redirect == 200 and "forbidden" in answer.text.lower()

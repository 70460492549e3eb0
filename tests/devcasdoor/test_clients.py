"""Real clients against the server: the official Casdoor Python SDK and Authlib."""
import secrets

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from casdoor import CasdoorSDK
from casdoor.transaction import Transaction
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.devcasdoor.helpers import CALLBACK, PASSWORD, USERS, api, app_credentials, code_from, sign_in

CLIENT_ID, CLIENT_SECRET = app_credentials()


@pytest.fixture
def sdk(dev):
    return CasdoorSDK(endpoint=dev.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      certificate=dev.state.certs["cert-storehouse"]["certificate"],
                      org_name="storehouse", application_name="storehouse", front_endpoint=dev.url)


def test_sdk_code_exchange_and_parse_jwt_token(dev, sdk):
    token = sdk.get_oauth_token(code=sign_in(dev, "alice"))
    assert token["id_token"] == token["access_token"]
    claims = sdk.parse_jwt_token(token["access_token"])
    assert claims["name"] == "alice" and claims["homepage"] == "research"
    assert claims["aud"] == [CLIENT_ID]


def test_sdk_auth_link_is_served_by_the_authorize_page(dev, sdk):
    link = sdk.get_auth_link(CALLBACK, state="abc")
    page = api(dev, "GET", link[len(dev.url):])
    assert 'name="password"' in page.text


def test_sdk_refresh_and_logout(dev, sdk):
    token = sdk.get_oauth_token(code=sign_in(dev, "bob"))
    refreshed = sdk.refresh_oauth_tokens(token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert sdk.logout(refreshed["access_token"])["status"] == "ok"
    with pytest.raises(Exception, match="Access token has expired"):
        sdk.with_access_token(refreshed["access_token"]).get_account()


def test_sdk_users(dev, sdk):
    alice = sdk.get_user("alice")
    assert alice.id == USERS["alice"]["id"] and alice.homepage == "research"
    assert sdk.get_user_by_email("bob@storehouse.test").name == "bob"
    alice.bio = "from the SDK"
    assert sdk.update_user(alice)["data"] == "Affected"
    again = sdk.get_user("alice")
    assert again.bio == "from the SDK" and again.displayName == USERS["alice"]["displayName"]
    again.homepage = "general"
    again.displayName = "ignored, not a listed column"
    assert sdk.update_user_for_columns(again, ["homepage"])["status"] == "ok"
    final = sdk.get_user("alice")
    assert final.homepage == "general" and final.displayName == USERS["alice"]["displayName"]
    assert sorted(u.name for u in sdk.get_users()) == ["admin", "alice", "bob", "carol", "dave"]


def test_sdk_user_token_and_get_account(dev, sdk):
    token = sdk.get_oauth_token(code=sign_in(dev, "carol"))
    account = sdk.with_access_token(token["access_token"]).get_account()
    assert account.name == "carol" and account.groups == ["storehouse/contractors"]


def _transaction(user, amount):
    t = Transaction()
    t.owner, t.user, t.tag, t.amount, t.currency = "storehouse", user, "User", amount, "USD"
    t.createdTime, t.category, t.state = "2026-08-22T10:00:00+02:00", "AI Usage", "Paid"
    return t


def test_sdk_transactions(dev, sdk):
    dry = sdk.add_transaction_with_dry_run(_transaction("alice", -0.25), True)
    assert dry["status"] == "ok" and dry["data"] == ""
    added = sdk.add_transaction(_transaction("alice", -0.25))
    assert len(added["data"]) == 32
    listed = sdk.get_transactions()
    assert [t.name for t in listed] == [added["data"]]
    assert sdk.get_transaction(added["data"]).amount == -0.25
    assert [t.user for t in sdk.get_user_transactions("alice")] == ["alice"]
    assert sdk.get_user("alice").balance == 9.75
    with pytest.raises(Exception, match="Insufficient balance: new balance -1 would be below credit limit 0"):
        sdk.add_transaction_with_dry_run(_transaction("dave", -1), True)


def test_authlib_code_flow_with_pkce_validates_the_id_token(dev):
    discovery = api(dev, "GET", "/.well-known/openid-configuration").json()
    client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="openid profile email", redirect_uri=CALLBACK,
                           code_challenge_method="S256")
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(discovery["authorization_endpoint"],
                                                 code_verifier=verifier, nonce=nonce)
    page = api(dev, "GET", url[len(dev.url):])
    assert 'name="password"' in page.text
    reply = api(dev, "POST", url[len(dev.url):], data={"username": "alice", "password": PASSWORD},
                allow_redirects=False)
    location = reply.headers["Location"]
    assert location.endswith(f"state={state}")
    token = client.fetch_token(discovery["token_endpoint"], authorization_response=location,
                               code_verifier=verifier)
    assert code_from(location)
    key_set = KeySet.import_key_set(api(dev, "GET", discovery["jwks_uri"][len(dev.url):]).json())
    decoded = jwt.decode(token["id_token"], key_set)
    claims_registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        azp={"essential": True, "value": CLIENT_ID},
    )
    claims_registry.validate(decoded.claims)
    assert decoded.header["kid"] == "cert-storehouse"
    userinfo = client.get(discovery["userinfo_endpoint"]).json()
    assert userinfo["sub"] == USERS["alice"]["id"] and userinfo["email_verified"] is True

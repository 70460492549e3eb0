"""The four token formats (casdoor-api.md §5)."""
from devcasdoor.tokens import JWT_USER_CLAIMS
from tests.devcasdoor.helpers import USERS, app_credentials, jwt_parts, tokens_for


def claims_of(dev, app, user="alice", **kwargs):
    return jwt_parts(tokens_for(dev, user, app, **kwargs)["access_token"])[1]


def test_jwt_format_carries_the_whole_user_in_struct_order(dev):
    claims = claims_of(dev, "storehouse")
    keys = list(claims)
    assert keys[:len(JWT_USER_CLAIMS)] == list(JWT_USER_CLAIMS)
    assert keys[len(JWT_USER_CLAIMS):] == ["tokenType", "nonce", "scope", "azp", "signinMethod",
                                           "iss", "sub", "aud", "exp", "nbf", "iat", "jti"]
    assert claims["homepage"] == "research"
    assert claims["groups"] == ["storehouse/staff"]
    assert claims["name"] == "alice" and claims["displayName"] == USERS["alice"]["displayName"]
    assert claims["firstName"] == "Alice" and claims["lastName"] == "Archer"
    assert claims["roles"] == [] and claims["permissions"] == [] and claims["properties"] == {}
    assert claims["password"] == ""
    assert claims["email_verified"] is True
    assert "balance" not in claims and "emailVerified" not in claims


def test_refresh_token_of_jwt_format(dev):
    body = tokens_for(dev)
    claims = jwt_parts(body["refresh_token"])[1]
    assert claims["tokenType"] == "refresh-token"


def test_jwt_standard_has_oidc_names_and_no_homepage_or_groups(dev):
    claims = claims_of(dev, "storehouse-standard")
    client_id, _ = app_credentials("storehouse-standard")
    assert claims["preferred_username"] == "alice"
    assert claims["name"] == USERS["alice"]["displayName"]
    assert claims["picture"] == USERS["alice"]["avatar"]
    assert claims["address"] == {"formatted": "", "street_address": "", "locality": "", "region": "",
                                 "postal_code": "", "country": ""}
    assert "homepage" not in claims and "groups" not in claims and "roles" not in claims
    assert "phone" not in claims
    assert claims["aud"] == [client_id]


def test_jwt_empty_is_minimal(dev):
    claims = claims_of(dev, "storehouse-empty")
    assert {"owner", "name", "id", "displayName", "avatar", "email", "phone"} <= set(claims)
    assert "homepage" not in claims and "groups" not in claims and "tag" not in claims
    assert claims["tokenType"] == "access-token"


def test_jwt_custom_has_selected_fields_and_attributes_sorted(dev):
    body = tokens_for(dev, "alice", "storehouse-custom", nonce="")
    claims = jwt_parts(body["access_token"])[1]
    assert list(claims) == sorted(claims)
    assert claims["homepage"] == "research"
    assert claims["groups"] == ["storehouse/staff"]
    assert claims["preferred_username"] == "alice"
    assert claims["displayName"] == USERS["alice"]["displayName"]
    assert claims["nonce"] == "" and claims["scope"] == "openid profile email"
    assert "firstName" not in claims and "tag" not in claims and "signinMethod" not in claims
    refresh = jwt_parts(body["refresh_token"])[1]
    assert refresh["tokenType"] == "access-token" and refresh["TokenType"] == "refresh-token"


def test_groups_follow_the_user(dev):
    dev.controls.patch_user("storehouse", "carol", groups=["storehouse/contractors", "storehouse/staff"])
    claims = claims_of(dev, "storehouse", "carol")
    assert claims["groups"] == ["storehouse/contractors", "storehouse/staff"]

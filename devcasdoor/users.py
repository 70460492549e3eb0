"""Casdoor ``User`` objects: their field set, masking, and ``update-user`` semantics.

A user is kept as a plain dict holding every field of Casdoor's ``object.User`` in
its JSON spelling, so what the REST API returns has the shape real clients
(the Python SDK's ``User.from_dict``, the Go SDK) expect.
"""
import copy

#: Every REST field of a Casdoor user with its Go zero value, in struct order.
USER_TEMPLATE = {
    "owner": "", "name": "", "createdTime": "", "updatedTime": "", "deletedTime": "",
    "id": "", "externalId": "", "type": "normal-user", "password": "", "passwordSalt": "",
    "passwordType": "plain", "displayName": "", "firstName": "", "lastName": "", "avatar": "",
    "avatarType": "", "permanentAvatar": "", "email": "", "emailVerified": False, "phone": "",
    "countryCode": "", "region": "", "location": "", "address": [], "addresses": [],
    "affiliation": "", "title": "", "idCardType": "", "idCard": "", "realName": "",
    "isVerified": False, "homepage": "", "bio": "", "tag": "", "language": "", "gender": "",
    "birthday": "", "education": "", "score": 0, "karma": 0, "ranking": 0,
    "balance": 0.0, "balanceCredit": 0.0, "currency": "", "balanceCurrency": "",
    "isDefaultAvatar": False, "isOnline": False, "isAdmin": False, "isForbidden": False,
    "isDeleted": False, "signupApplication": "", "hash": "", "preHash": "", "registerType": "",
    "registerSource": "", "accessToken": "", "originalToken": "", "originalRefreshToken": "",
    "createdIp": "", "lastSigninTime": "", "lastSigninIp": "",
    "github": "", "google": "", "qq": "", "wechat": "", "facebook": "", "dingtalk": "",
    "weibo": "", "gitee": "", "linkedin": "", "wecom": "", "lark": "", "gitlab": "",
    "webauthnCredentials": None, "preferredMfaType": "", "recoveryCodes": None,
    "totpSecret": "", "mfaPhoneEnabled": False, "mfaEmailEnabled": False,
    "invitation": "", "invitationCode": "", "faceIds": None, "cart": None, "ldap": "",
    "uidNumber": 0, "properties": {}, "roles": [], "permissions": [], "groups": [],
    "lastChangePasswordTime": "", "lastSigninWrongTime": "", "signinWrongTimes": 0,
    "managedAccounts": None, "mfaAccounts": None, "mfaItems": None,
    "mfaRememberDeadline": "", "needUpdatePassword": False, "ipWhitelist": "",
    "applicationScopes": None,
}

#: Columns ``update-user`` writes from the body when no ``columns`` are given
#: (Casdoor's default list): a key missing from the body becomes its zero value.
DEFAULT_UPDATE_COLUMNS = (
    "displayName", "firstName", "lastName", "avatar", "avatarType", "permanentAvatar",
    "location", "address", "addresses", "countryCode", "region", "affiliation", "title",
    "idCardType", "idCard", "realName", "isVerified", "homepage", "bio", "tag", "language",
    "gender", "birthday", "education", "score", "karma", "ranking", "isDefaultAvatar",
    "isOnline", "signupApplication", "hash", "preHash", "registerType", "registerSource",
    "github", "google", "qq", "wechat", "facebook", "dingtalk", "weibo", "gitee", "linkedin",
    "wecom", "lark", "gitlab", "preferredMfaType", "mfaPhoneEnabled", "mfaEmailEnabled",
    "ldap", "properties", "groups", "emailVerified", "type", "signinWrongTimes",
    "lastSigninWrongTime", "needUpdatePassword", "ipWhitelist", "currency",
)

#: Extra default columns written only when the caller is an admin or an application.
ADMIN_UPDATE_COLUMNS = (
    "name", "id", "email", "phone", "balance", "balanceCredit", "balanceCurrency",
    "isAdmin", "isForbidden", "isDeleted",
)

#: Characters Casdoor's FieldValidationFilter refuses in a body ``name`` of add-*/update-*.
FORBIDDEN_NAME_CHARS = "/?:#&%=+;"


def zero_value(key):
    """The Go zero value of a user field (what an omitted body key turns into)."""
    value = USER_TEMPLATE.get(key, "")
    if isinstance(value, (list, dict)):
        return type(value)()
    if value == "normal-user" or value == "plain":
        return ""
    return value


def build_user(fields):
    """A full user dict from a seed entry: the template overlaid with ``fields``."""
    user = copy.deepcopy(USER_TEMPLATE)
    user.update(copy.deepcopy(fields))
    for key in ("balance", "balanceCredit"):
        user[key] = float(user[key])
    return user


def mask_user(user):
    """A copy safe to return over the API (Casdoor's ``GetMaskedUser``).

    The password becomes ``"***"`` so a client that sends the object back
    unchanged does not reset it.
    """
    masked = copy.deepcopy(user)
    if masked.get("password"):
        masked["password"] = "***"
    masked["totpSecret"] = ""
    masked["recoveryCodes"] = None
    return masked


def apply_update(stored, body, columns, is_admin):
    """Write ``body`` onto ``stored`` in place with Casdoor's ``UpdateUser`` rules.

    With ``columns`` the body is merged onto the stored user and only those
    columns are written (so omitted keys keep their values). Without columns the
    default column set is written from the body, and omitted keys become zero
    values: this is the trap that makes clients send the whole user back.
    A password of ``"***"`` or ``""`` means "unchanged".
    """
    if columns:
        merged = copy.deepcopy(stored)
        merged.update(body)
        targets = [c for c in columns if c in USER_TEMPLATE]
        source = merged
    else:
        targets = list(DEFAULT_UPDATE_COLUMNS)
        if is_admin:
            targets += ADMIN_UPDATE_COLUMNS
        source = body
    before = copy.deepcopy(stored)
    for column in targets:
        if column in ("password", "owner"):
            continue
        value = source.get(column, zero_value(column)) if not columns else source.get(column)
        if column in ("balance", "balanceCredit"):
            value = float(value or 0)
        stored[column] = copy.deepcopy(value)
    # Moving a user to another organization is checked by the caller (global
    # admins only) and happens only when the body names a different owner.
    if is_admin and body.get("owner") and body["owner"] != stored["owner"]:
        stored["owner"] = body["owner"]
    password = body.get("password")
    if columns and "password" in columns and password not in (None, "", "***"):
        stored["password"] = password
    return stored != before

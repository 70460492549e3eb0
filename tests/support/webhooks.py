"""Casdoor webhooks delivered to Storehouse by the development Casdoor's own worker, over loopback."""
import requests

from tests.support.casdoor import access_token_for, demo_application

WEBHOOK_SECRET = "webhook-secret-for-the-tests-3f9a1c"
WEBHOOK_EVENTS = ["update-user", "delete-user", "logout", "sso-logout"]


def app_credentials():
    app = demo_application("storehouse")
    return {"clientId": app["clientId"], "clientSecret": app["clientSecret"]}


def add_webhook(casdoor, url, *, secret=WEBHOOK_SECRET, content_type="application/json", name="storehouse"):
    """What the Casdoor administrator sets up: the URL, the events, the secret as a custom header."""
    response = requests.post(f"{casdoor.url}/api/add-webhook", params=app_credentials(), timeout=5, json={
        "owner": "admin", "name": name, "organization": "storehouse", "url": url, "method": "POST",
        "contentType": content_type, "headers": [{"name": "Authorization", "value": f"Bearer {secret}"}],
        "events": WEBHOOK_EVENTS, "isUserExtended": False, "singleOrgOnly": True, "isEnabled": True,
        "maxRetries": 3, "retryInterval": 1})
    assert response.json()["status"] == "ok", response.text


def as_casdoor_admin(casdoor, path, *, params=None, json=None):
    """A call the organization's administrator makes in Casdoor (recorded: it triggers webhooks)."""
    token = access_token_for(casdoor, "admin")
    response = requests.post(f"{casdoor.url}{path}", params=params, json=json, timeout=5,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.json()["status"] == "ok", response.text
    return response.json()


def admin_updates_user(casdoor, name, **fields):
    """The administrator edits ``name`` in Casdoor: only ``fields`` change."""
    return as_casdoor_admin(casdoor, "/api/update-user",
                            params={"id": f"storehouse/{name}", "columns": ",".join(fields)}, json=fields)


def admin_deletes_user(casdoor, name):
    return as_casdoor_admin(casdoor, "/api/delete-user", json={"owner": "storehouse", "name": name})


def deliveries_to(casdoor, url):
    return [d for d in casdoor.controls.webhook_deliveries() if d.get("url", "").startswith(url)]

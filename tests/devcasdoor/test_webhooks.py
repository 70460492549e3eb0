"""Webhooks (casdoor-api.md §10): queued, unsigned, custom headers, none for app callers."""
import json
import time

from tests.devcasdoor.helpers import api, app_credentials, sign_in, tokens_for

CLIENT_ID, CLIENT_SECRET = app_credentials()
APP_AUTH = {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}


def add_webhook(dev, url, events, **extra):
    body = {"owner": "admin", "name": "storehouse-hook", "organization": "storehouse", "url": url,
            "method": "POST", "contentType": "application/json",
            "headers": [{"name": "X-Storehouse-Secret", "value": "s3cret"}],
            "events": events, "isEnabled": True, "maxRetries": 2, "retryInterval": 0.05, **extra}
    reply = api(dev, "POST", "/api/add-webhook", params=APP_AUTH, json=body).json()
    assert reply["status"] == "ok"


def charge(user):
    return {"owner": "storehouse", "name": "", "user": user, "tag": "User", "amount": -1,
            "currency": "USD", "createdTime": "2026-08-22T10:00:00+02:00"}


def test_login_webhook_is_unsigned_with_custom_headers(dev, webhook_receiver):
    add_webhook(dev, webhook_receiver.url, ["login"])
    sign_in(dev, "alice")
    received = webhook_receiver.wait_for(1)
    assert len(received) == 1
    headers = received[0]["headers"]
    assert headers["X-Storehouse-Secret"] == "s3cret"
    assert headers["Content-Type"] == "application/json"
    assert not any("signature" in name.lower() or "timestamp" in name.lower() for name in headers)
    payload = json.loads(received[0]["body"])
    assert payload["action"] == "login" and payload["user"] == "alice"
    assert payload["organization"] == "storehouse" and payload["id"] == 0
    assert payload["extendedUser"] is None
    assert json.loads(payload["object"])["password"] == "***"
    assert set(payload) >= {"owner", "name", "createdTime", "clientIp", "method", "requestUri",
                            "object", "response", "statusCode", "isTriggered"}


def test_no_webhook_for_app_credential_calls(dev, webhook_receiver):
    add_webhook(dev, webhook_receiver.url, ["add-transaction"])
    assert api(dev, "POST", "/api/add-transaction", params={"id": "storehouse/", **APP_AUTH},
               json=charge("alice")).json()["status"] == "ok"
    admin = tokens_for(dev, "admin")["access_token"]
    assert api(dev, "POST", "/api/add-transaction", params={"id": "storehouse/"},
               headers={"Authorization": f"Bearer {admin}"}, json=charge("bob")).json()["status"] == "ok"
    received = webhook_receiver.wait_for(1)
    time.sleep(0.2)  # give a wrongly queued app-call event the chance to arrive
    assert len(received) == 1
    payload = json.loads(received[0]["body"])
    assert payload["user"] == "admin" and json.loads(payload["object"])["user"] == "bob"


def test_failed_delivery_is_retried(dev, webhook_receiver):
    webhook_receiver.statuses[:] = [500, 503]
    add_webhook(dev, webhook_receiver.url, ["login"])
    sign_in(dev, "bob")
    received = webhook_receiver.wait_for(3)
    assert len(received) == 3
    attempts = [(d["attempt"], d["status"]) for d in dev.controls.webhook_deliveries()]
    assert attempts == [(1, 500), (2, 503), (3, 200)]


def test_delivery_gives_up_after_max_retries(dev, webhook_receiver):
    webhook_receiver.statuses[:] = [500] * 10
    add_webhook(dev, webhook_receiver.url, ["login"], maxRetries=1)
    sign_in(dev, "bob")
    webhook_receiver.wait_for(2)
    time.sleep(0.3)
    assert len(webhook_receiver.received) == 2


def test_extended_user_and_logout_event(dev, webhook_receiver):
    add_webhook(dev, webhook_receiver.url, ["logout"], tokenFields=["Homepage", "Groups"])
    token = tokens_for(dev, "alice")["access_token"]
    reply = api(dev, "GET", "/api/logout", params={"id_token_hint": token})
    assert reply.json()["status"] == "ok"
    payload = json.loads(webhook_receiver.wait_for(1)[0]["body"])
    assert payload["action"] == "logout" and payload["user"] == "alice"
    assert payload["extendedUser"] == {"homepage": "research", "groups": ["storehouse/staff"]}
    assert "id_token_hint" not in payload["requestUri"]


def test_update_user_by_the_user_triggers_a_webhook(dev, webhook_receiver):
    add_webhook(dev, webhook_receiver.url, ["update-user"], isUserExtended=True)
    token = tokens_for(dev, "bob")["access_token"]
    reply = api(dev, "POST", "/api/update-user", params={"id": "storehouse/bob", "columns": "bio"},
                headers={"Authorization": f"Bearer {token}"}, json={"bio": "hi"})
    assert reply.json()["status"] == "ok"
    payload = json.loads(webhook_receiver.wait_for(1)[0]["body"])
    assert payload["action"] == "update-user" and payload["user"] == "bob"
    assert payload["extendedUser"]["bio"] == "hi" and payload["extendedUser"]["password"] == "***"

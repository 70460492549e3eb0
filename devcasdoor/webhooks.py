"""Webhook delivery: a background worker that polls the queued events.

Like Casdoor since v2.374.0: events are queued, a worker polls every
``poll_seconds`` (30 s in Casdoor), any 2xx is success, otherwise the event is
retried ``maxRetries`` times every ``retryInterval`` seconds (or with
exponential back-off capped at one hour). Requests carry ``Content-Type`` and
the webhook's custom headers, and no signature of any kind.
"""
import json
import threading
import time

import requests

from .state import now_rfc3339

#: Casdoor's delivery timeout.
DELIVERY_TIMEOUT_SECONDS = 30


class WebhookWorker:
    """Polls ``state.webhook_events`` and delivers due ones; every attempt is logged
    in ``state.deliveries``."""

    def __init__(self, state, poll_seconds=30.0):
        self.state = state
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="devcasdoor-webhooks", daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self):
        while not self._stop.wait(self.poll_seconds):
            self.deliver_due()

    def deliver_due(self):
        """Send every pending event whose time has come (one attempt each)."""
        now = time.time()
        with self.state.lock:
            due = [e for e in self.state.webhook_events
                   if e["status"] == "pending" and e["nextTryAt"] <= now]
            webhooks = {w["name"]: w for w in self.state.webhooks}
            generation = self.state.generation
        for event in due:
            webhook = webhooks.get(event["webhook"])
            if webhook is not None:
                self._attempt(event, webhook, generation)

    def _attempt(self, event, webhook, generation):
        headers = {"Content-Type": webhook.get("contentType") or "application/json"}
        for header in webhook.get("headers") or []:
            headers[header["name"]] = header["value"]
        body = json.dumps(event["payload"])
        status, error = None, ""
        try:
            reply = requests.request(webhook.get("method") or "POST", webhook["url"], data=body,
                                     headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
            status = reply.status_code
        except requests.RequestException as exc:
            error = str(exc)
        with self.state.lock:
            if self.state.generation != generation:
                return  # the state was reset while we were sending
            event["attempts"] += 1
            self.state.deliveries.append({
                "event": event["name"], "webhook": webhook["name"], "url": webhook["url"],
                "method": webhook.get("method") or "POST", "headers": headers, "body": body,
                "status": status, "error": error, "attempt": event["attempts"], "time": now_rfc3339(),
            })
            if status is not None and 200 <= status < 300:
                event["status"] = "success"
                return
            event["lastError"] = error or f"status {status}"
            if event["attempts"] > int(webhook.get("maxRetries", 3)):
                event["status"] = "failed"
                return
            interval = float(webhook.get("retryInterval", 60))
            if webhook.get("useExponentialBackoff"):
                interval = min(interval * 2 ** (event["attempts"] - 1), 3600)
            event["nextTryAt"] = time.time() + interval

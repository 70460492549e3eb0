"""Billing: AI answers charged to the user's balance in Casdoor.

``client.py`` speaks Casdoor's transaction API (a dry-run balance check, adding
a transaction under an idempotency key, looking a key up, listing this
application's transactions, reading a balance), with money as
``decimal.Decimal`` on this side of the wire. ``errors.py`` holds the billing
errors. The charges outbox, reservations, the delivery job and
``flask billing reconcile`` build on the client.
"""

"""Xero sandbox: an in-memory emulator of the slice of Xero's API the connector uses.

This is a development and test double. It serves Xero's OAuth 2.0 endpoints, ``/connections``
and the Accounting API resources the connector needs (Organisation, Currencies, TaxRates,
Accounts, Contacts, Invoices) with Xero's paths, casing, envelopes, errors and rate limits,
plus a ``/_sandbox`` control API for tests and benchmarks.

It is never deployed: it keeps everything in memory, trusts every caller of the control API
and has no login page.
"""

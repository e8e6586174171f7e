"""Request-level failures of the Accounting API, translated to HTTP at the routes."""

from __future__ import annotations

from typing import Any

# What the Accounting API answers besides 200, as Xero does, for the OpenAPI document.
ACCOUNTING_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Xero's ApiException: a validation, body or where-clause problem"},
    401: {"description": "Missing, unknown or expired access token (problem JSON)"},
    403: {"description": "The token has no connection to the Xero-tenant-id (problem JSON)"},
    404: {"description": "No such resource", "content": {"text/plain": {}}},
    429: {"description": "Rate limit hit; Retry-After and X-Rate-Limit-Problem say which"},
}


class AccountingError(Exception):
    """A whole request is refused (as opposed to one element of a batch)."""

    status = 400


class PostDataInvalid(AccountingError):
    """The body cannot be read as the resource (Xero's ``PostDataInvalidException``)."""


class QueryParseError(AccountingError):
    """A ``where`` clause the sandbox cannot evaluate (Xero's ``QueryParseException``)."""


class NotFound(AccountingError):
    status = 404

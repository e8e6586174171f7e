"""Request-level failures of the Accounting API, translated to HTTP at the routes."""

from __future__ import annotations


class AccountingError(Exception):
    """A whole request is refused (as opposed to one element of a batch)."""

    status = 400


class PostDataInvalid(AccountingError):
    """The body cannot be read as the resource (Xero's ``PostDataInvalidException``)."""


class QueryParseError(AccountingError):
    """A ``where`` clause the sandbox cannot evaluate (Xero's ``QueryParseException``)."""


class NotFound(AccountingError):
    status = 404

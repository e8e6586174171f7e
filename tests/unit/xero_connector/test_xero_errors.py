"""Xero's error answers -> the exception tree (one case per kind of answer Xero gives)."""

import json

import pytest

from xero_connector.xero_errors import (
    InvalidGrant,
    OAuthError,
    TenantForbidden,
    TokenExpired,
    Unauthorized,
    XeroBadRequest,
    XeroNotFound,
    XeroRateLimited,
    XeroUnavailable,
    XeroValidationError,
    api_error,
    oauth_error,
)


def problem(status: int, detail: str) -> bytes:
    return json.dumps({"Title": "x", "Status": status, "Detail": detail}).encode()


LIMITS = {"X-DayLimit-Remaining": "4990", "X-MinLimit-Remaining": "58"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        (401, {}, problem(401, "TokenExpired: token expired at 11/20/2026 09:00:00"), TokenExpired),
        (401, {}, problem(401, "AuthorizationUnsuccessful"), Unauthorized),
        (401, {}, b"", Unauthorized),
        (403, {}, problem(403, "AuthenticationUnsuccessful"), TenantForbidden),
        (404, {}, b"The resource you're looking for cannot be found", XeroNotFound),
        (500, {}, b"", XeroUnavailable),
        (503, {}, problem(503, "Sandbox fault injection: Service Unavailable"), XeroUnavailable),
        (
            400,
            {},
            b'{"ErrorNumber":14,"Type":"PostDataInvalidException","Message":"Invalid Json data"}',
            XeroBadRequest,
        ),
    ],
)
def test_api_errors_by_kind(
    status: int, headers: dict[str, str], body: bytes, kind: type[Exception]
) -> None:
    error = api_error(status, headers, body)
    assert type(error) is kind
    assert error.status == status


def test_a_429_carries_the_problem_the_wait_and_the_limits() -> None:
    headers = {"Retry-After": "17", "X-Rate-Limit-Problem": "minute", **LIMITS}
    error = api_error(429, headers, problem(429, "Rate limit exceeded: minute"))
    assert isinstance(error, XeroRateLimited)
    assert (error.problem, error.retry_after) == ("minute", 17.0)
    assert (error.limits.day_remaining, error.limits.minute_remaining) == (4990, 58)
    assert error.limits.app_minute_remaining is None


def test_a_validation_exception_keeps_every_message_of_every_element() -> None:
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [
            {
                "InvoiceNumber": "INV-1",
                "ValidationErrors": [
                    {"Message": "Invoice # must be unique."},
                    {"Message": "Account code '999' is not a valid code for this document."},
                ],
            },
            {"ValidationErrors": [{"Message": "Organisation is not subscribed to currency EUR"}]},
        ],
    }
    error = api_error(400, LIMITS, json.dumps(body).encode())
    assert isinstance(error, XeroValidationError)
    assert error.messages == [
        "Invoice # must be unique.",
        "Account code '999' is not a valid code for this document.",
        "Organisation is not subscribed to currency EUR",
    ]
    assert error.elements[0]["InvoiceNumber"] == "INV-1"
    assert error.limits.minute_remaining == 58


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, b'{"error":"invalid_grant"}', InvalidGrant, "invalid_grant"),
        (400, b'{"error":"invalid_client"}', OAuthError, "invalid_client"),
        (400, b"not json", OAuthError, "unexpected_response"),
    ],
)
def test_identity_errors(status: int, body: bytes, kind: type[OAuthError], code: str) -> None:
    error = oauth_error(status, body)
    assert type(error) is kind
    assert isinstance(error, OAuthError) and error.error == code


def test_identity_server_trouble_is_unavailable() -> None:
    assert type(oauth_error(502, b"")) is XeroUnavailable
    assert isinstance(oauth_error(429, b""), XeroRateLimited)

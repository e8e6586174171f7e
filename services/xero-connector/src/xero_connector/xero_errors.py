"""What can go wrong talking to Xero, as one exception tree, and the pure functions that turn
Xero's error responses into it. Callers branch on classes, never on message strings.

    XeroError                       anything Xero or the way to it refused
    ├── XeroAuthError               the credentials are not (or no longer) good
    │   ├── TokenExpired            401 "TokenExpired: ..." (refresh and retry once)
    │   ├── Unauthorized            401, any other reason (a bad or unknown token)
    │   ├── TenantForbidden         403 AuthenticationUnsuccessful (tenant disconnected)
    │   └── OAuthError              the identity server's {"error": ...} (token, revocation)
    │       └── InvalidGrant        refresh token or code refused: reconnect needed
    ├── XeroRateLimited             429; ``problem`` (minute, day, appminute, concurrent)
    │                               and ``retry_after`` seconds
    ├── XeroUnavailable             5xx, timeouts, connection failures: retryable
    │   └── XeroTransportError      no answer; ``sent`` says the request may have arrived
    ├── XeroValidationError         400 ValidationException; ``elements`` and ``messages``
    ├── XeroNotFound                404
    ├── XeroBadRequest              any other 4xx (PostDataInvalid, QueryParse, ...)
    └── TenantChanged               not sent: the organisation's connection now reaches
                                    another tenant than the work began with

Every instance carries ``status`` (None without an answer) and ``limits`` (the rate-limit
headers of the answer, when there was one).
"""

import json
from collections.abc import Mapping
from typing import Any

from xero_connector.xero_models import JsonDict, RateLimits


class XeroError(Exception):
    def __init__(
        self, message: str, *, status: int | None = None, limits: RateLimits | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.limits = limits or RateLimits()


class XeroAuthError(XeroError):
    pass


class TokenExpired(XeroAuthError):
    pass


class Unauthorized(XeroAuthError):
    pass


class TenantForbidden(XeroAuthError):
    pass


class OAuthError(XeroAuthError):
    def __init__(self, error: str, description: str | None = None, *, status: int = 400) -> None:
        text = f"{error}: {description}" if description else error
        super().__init__(text, status=status)
        self.error = error
        self.description = description


class InvalidGrant(OAuthError):
    pass


class XeroRateLimited(XeroError):
    def __init__(
        self, message: str, *, problem: str, retry_after: float, limits: RateLimits
    ) -> None:
        super().__init__(message, status=429, limits=limits)
        self.problem = problem
        self.retry_after = retry_after


class XeroUnavailable(XeroError):
    pass


class XeroTransportError(XeroUnavailable):
    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class XeroValidationError(XeroError):
    def __init__(
        self, message: str, *, elements: list[JsonDict], status: int, limits: RateLimits
    ) -> None:
        super().__init__(message, status=status, limits=limits)
        self.elements = elements
        self.messages = validation_messages(elements)


class XeroNotFound(XeroError):
    pass


class XeroBadRequest(XeroError):
    def __init__(self, message: str, *, kind: str | None, status: int, limits: RateLimits) -> None:
        super().__init__(message, status=status, limits=limits)
        self.kind = kind


class TenantChanged(XeroError):
    pass


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def validation_messages(elements: list[JsonDict]) -> list[str]:
    """Every element's every message, in order: never only the first."""
    messages: list[str] = []
    for element in elements:
        for error in element.get("ValidationErrors") or []:
            if isinstance(error, dict) and error.get("Message"):
                messages.append(str(error["Message"]))
    return messages


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def api_error(status: int, headers: Mapping[str, str], body: bytes) -> XeroError:
    """The exception for an Accounting API (or /connections) answer that is not a success."""
    lower = {k.lower(): v for k, v in headers.items()}
    limits = RateLimits.from_headers(lower)
    data = _json(body)
    problem = data if isinstance(data, dict) else {}
    detail = str(problem.get("Detail") or problem.get("Message") or "").strip()
    text = detail or (body[:200].decode(errors="replace").strip() if body else "")
    if status == 401:
        if detail.startswith("TokenExpired"):
            return TokenExpired(detail, status=status, limits=limits)
        return Unauthorized(text or "unauthorized", status=status, limits=limits)
    if status == 403:
        return TenantForbidden(text or "forbidden", status=status, limits=limits)
    if status == 429:
        kind = lower.get("x-rate-limit-problem", "unknown")
        return XeroRateLimited(
            text or f"rate limit exceeded: {kind}",
            problem=kind,
            retry_after=_retry_after(lower),
            limits=limits,
        )
    if status >= 500:
        return XeroUnavailable(text or f"Xero answered {status}", status=status, limits=limits)
    if status == 404:
        return XeroNotFound(text or "not found", status=status, limits=limits)
    if problem.get("Type") == "ValidationException":
        elements = [e for e in problem.get("Elements") or [] if isinstance(e, dict)]
        message = str(problem.get("Message") or "A validation exception occurred")
        return XeroValidationError(message, elements=elements, status=status, limits=limits)
    error_type = problem.get("Type")
    return XeroBadRequest(
        text or f"Xero answered {status}",
        kind=str(error_type) if error_type else None,
        status=status,
        limits=limits,
    )


def oauth_error(status: int, body: bytes) -> XeroError:
    """The exception for an identity server answer (token, revocation) that is not a success."""
    data = _json(body)
    if status >= 500:
        return XeroUnavailable(f"identity server answered {status}", status=status)
    if status == 429:
        return XeroRateLimited(
            "identity server rate limit", problem="identity", retry_after=1.0, limits=RateLimits()
        )
    if isinstance(data, dict) and data.get("error"):
        error = str(data["error"])
        description = data.get("error_description")
        cls = InvalidGrant if error == "invalid_grant" else OAuthError
        return cls(error, str(description) if description else None, status=status)
    return OAuthError("unexpected_response", f"identity server answered {status}", status=status)

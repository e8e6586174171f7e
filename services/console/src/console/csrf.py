"""CSRF protection: a per-session token on every state-changing request.

Forms carry it as the hidden field ``csrf_token``; htmx sends it as the ``X-CSRF-Token`` header
(set once on ``<body hx-headers>``). The session cookie is SameSite=Lax as well, but the token
is what is checked: a request whose method changes state and carries no matching token is
refused with 403 before its route runs.
"""

import hmac
import secrets

from fastapi import Depends, Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


class CsrfRefused(Exception):
    """A state-changing request without the session's token."""


def token(request: Request) -> str:
    """The session's token, made on first use (a visitor signing in gets one too)."""
    value = request.session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        request.session["csrf"] = value
    return value


async def protect(request: Request) -> None:
    """Router dependency: refuses an unsafe request without the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    presented = request.headers.get(HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(FORM_FIELD)
        presented = field if isinstance(field, str) else None
    if not (
        isinstance(expected, str)
        and presented
        and hmac.compare_digest(expected.encode(), presented.encode())
    ):
        raise CsrfRefused


PROTECT = Depends(protect)

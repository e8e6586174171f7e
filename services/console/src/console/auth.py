"""Who is signed in, and what their role lets them do.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, ``Secure`` when configured);
it holds the user's name, when they signed in and the CSRF token, never a role: the role is
read from the settings on every request, so changing a user's role takes effect at once.
A session is good for ``session_max_age_seconds`` from sign-in, however active it is.

Behind an auth proxy (``CONSOLE_AUTH_PROXY_HEADER``) the header names the user instead; the
user must still be one of ``CONSOLE_USERS``, whose role applies.
"""

import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from console.config import Role, Settings
from console.passwords import verify

SIGN_IN_REFUSED = "The user name or password is wrong."


class NotSignedIn(Exception):
    """No (or an expired) session: the browser is sent to the sign-in page."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this: 403."""

    def __init__(self, needed: Role) -> None:
        super().__init__(f"needs the {needed.name} role")
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return self.role >= role


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def sign_in(request: Request, settings: Settings, name: str, password: str) -> Principal | None:
    """The user when the password is right; ``None`` alike for an unknown user or a wrong
    password (the same work is done either way: see ``passwords.verify``)."""
    user = settings.user(name)
    if not verify(user.password_hash.get_secret_value() if user else None, password):
        return None
    assert user is not None
    request.session.clear()
    request.session.update(
        user=user.name, signed_in_at=int(time.time()), csrf=secrets.token_urlsafe(32)
    )
    return Principal(user.name, user.role)


def sign_out(request: Request) -> None:
    request.session.clear()


def principal(request: Request, settings: Settings) -> Principal | None:
    """The signed-in user, or ``None``."""
    if settings.auth_proxy_header:
        named = request.headers.get(settings.auth_proxy_header)
        user = settings.user(named) if named else None
        return Principal(user.name, user.role) if user else None
    name = request.session.get("user")
    signed_in_at = request.session.get("signed_in_at", 0)
    if not isinstance(name, str) or time.time() - signed_in_at > settings.session_max_age_seconds:
        return None
    user = settings.user(name)
    return Principal(user.name, user.role) if user else None


def current_user(request: Request) -> Principal:
    found = principal(request, settings_of(request))
    if found is None:
        request.session.pop("user", None)
        raise NotSignedIn
    request.state.user = found
    return found


class Require:
    """Dependency: the signed-in user, who must hold at least ``role``."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def __call__(self, user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not user.can(self.role):
            raise Forbidden(self.role)
        return user


Viewer = Annotated[Principal, Depends(Require(Role.viewer))]
Operator = Annotated[Principal, Depends(Require(Role.operator))]
Admin = Annotated[Principal, Depends(Require(Role.admin))]

"""Sign in and sign out."""

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import auth
from console.web import SettingsDep, record, render

router = APIRouter()
_log = structlog.get_logger(__name__)


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never another site (an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return await render(request, "login.html", next=_safe_next(next), error=None, name="")


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    user = auth.sign_in(request, settings, name, password)
    if user is None:
        _log.info("console.sign_in_refused", user=name)
        return await render(
            request,
            "login.html",
            401,
            next=_safe_next(next),
            error=auth.SIGN_IN_REFUSED,
            name=name,
        )
    await record(request, user, "sign_in")
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    user = auth.principal(request, request.app.state.settings)
    if user is not None:
        await record(request, user, "sign_out")
    auth.sign_out(request)
    return RedirectResponse("/login", status_code=303)

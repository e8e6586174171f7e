"""The Audit page: who did what, when, on which organisation, and the batch it started."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from console.auth import Viewer
from console.web import AuditDep, render

router = APIRouter()


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    user: Viewer,
    audit: AuditDep,
    org_id: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[str | None, Query(max_length=24)] = None,
) -> Response:
    page = await audit.page(org_id or None, before)
    return await render(request, "audit.html", page=page, org_filter=org_id or "")

"""The overview of every organisation, and the organisation switcher."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import Viewer
from console.web import IDENTIFIER, ConnectorDep, SyncLogDep, attempt, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request, user: Viewer, connector: ConnectorDep, sync_log: SyncLogDep
) -> Response:
    orgs, counts = await asyncio.gather(attempt(connector.orgs()), attempt(sync_log.org_stats()))
    return await render(request, "overview.html", summary=orgs, counts=counts)


@router.get("/switch")
async def switch(
    user: Viewer, org_id: Annotated[str, Query(max_length=100, pattern=IDENTIFIER)]
) -> Response:
    """The switcher's form (works without JavaScript): to the organisation's connection."""
    return RedirectResponse(f"/orgs/{org_id}", status_code=303)


@router.get("/sync-log")
async def any_sync_log(user: Viewer, connector: ConnectorDep) -> Response:
    """Where sync-log's old page sends operators: the first organisation's Sync Log."""
    orgs = await attempt(connector.orgs())
    if orgs.value:
        return RedirectResponse(f"/orgs/{orgs.value[0].org_id}/sync-log", status_code=303)
    return RedirectResponse("/", status_code=303)

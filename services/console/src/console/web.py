"""What every screen shares: the clients and the audit store as typed dependencies, the
organisation id in paths, rendering with the layout's context, and recording an action.

    @router.get("/orgs/{org_id}/settings")
    async def page(request: Request, org_id: OrgId, user: Viewer, connector: ConnectorDep):
        return await render(request, "settings.html", org_id=org_id, ...)
"""

from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console import csrf
from console.audit import AuditEntry, AuditLog, now
from console.auth import Principal
from console.clients.base import ServiceProblem, ServiceUnavailable
from console.clients.connector import ConnectorClient, OrgSummary
from console.clients.invoices import InvoicesClient
from console.clients.synclog import SyncLogClient
from console.config import Role, Settings
from console.remediation import FIXES, fix_for, fix_url
from service_kit.http import app_state

T = TypeVar("T")
TEMPLATES = Jinja2Templates(directory=FilePath(__file__).parent / "templates")
TEMPLATES.env.globals.update(Role=Role, fix_for=fix_for, fix_url=fix_url, error_codes=list(FIXES))

# The services' own identifier rule (sync_schemas.invoice), repeated so the console needs none
# of their packages: anything else in a path is refused before a service is called.
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
OrgId = Annotated[str, Path(min_length=1, max_length=100, pattern=IDENTIFIER)]
InvoiceId = OrgId


ConnectorDep = Annotated[ConnectorClient, Depends(app_state("connector"))]
InvoicesDep = Annotated[InvoicesClient, Depends(app_state("invoices"))]
SyncLogDep = Annotated[SyncLogClient, Depends(app_state("sync_log"))]
AuditDep = Annotated[AuditLog, Depends(app_state("audit"))]
SettingsDep = Annotated[Settings, Depends(app_state("settings"))]


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A call's value, or why there is none, so one service down leaves the page usable."""

    value: T | None = None
    problem: ServiceProblem | None = None

    @property
    def down(self) -> str | None:
        return self.problem.service if isinstance(self.problem, ServiceUnavailable) else None


async def attempt(call: Awaitable[T]) -> Outcome[T]:
    try:
        return Outcome(value=await call)
    except ServiceProblem as problem:
        return Outcome(problem=problem)


async def render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page in the layout: the user, the CSRF token and the organisation switcher. A
    fragment (``_name.html``, what htmx polls) has no layout, so no switcher to fill."""
    orgs: Outcome[list[OrgSummary]] = Outcome(value=[])
    if getattr(request.state, "user", None) is not None and not template.startswith("_"):
        connector: ConnectorClient = request.app.state.connector
        orgs = await attempt(connector.orgs())
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": getattr(request.state, "user", None),
            "csrf_token": csrf.token(request),
            "orgs": orgs,
            **context,
        },
        status_code=status_code,
    )


async def record(
    request: Request,
    user: Principal,
    action: str,
    org_id: str | None = None,
    *,
    batch_id: str | None = None,
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """Write one line of the audit trail."""
    entry = AuditEntry(
        at=now(),
        user=user.name,
        role=user.role.name,
        org_id=org_id,
        action=action,
        outcome=outcome,
        batch_id=batch_id,
        detail=detail,
    )
    audit: AuditLog = request.app.state.audit
    await audit.record(entry)

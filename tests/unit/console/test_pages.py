"""What the screens show and do over fake services: audit lines, a service down, no secret."""

import httpx

from tests.unit.console.conftest import KEYS, SESSION_SECRET, Console


def test_a_row_resync_calls_invoice_events_and_is_audited(console: Console) -> None:
    console.sign_in("operator")
    token = console.csrf("/orgs/org_demo/sync-log")
    response = console.client.post(
        "/orgs/org_demo/invoices/inv_1/sync",
        data={"csrf_token": token, "back": "/orgs/org_demo/sync-log?status=failed"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/orgs/org_demo/sync-log?status=failed&requested=inv_1"
    calls = console.services["invoice-events"].calls("POST", "/v1/invoices/org_demo/inv_1/sync")
    assert calls[0].headers["authorization"] == f"Bearer {KEYS['invoice-events']}"
    entry = console.audit.entries[-1]
    assert (entry.user, entry.role, entry.org_id, entry.action) == (
        "operator",
        "operator",
        "org_demo",
        "resync_invoice",
    )
    assert entry.detail == {"invoice_id": "inv_1"}


def test_a_bulk_resync_previews_then_starts_a_batch(console: Console) -> None:
    console.sign_in("operator")
    invoices = console.services["invoice-events"]
    preview = console.client.get("/orgs/org_demo/resync?status=failed&error_code=contact_missing")
    assert "This will re-sync <strong>4</strong> invoices" in preview.text
    dry = invoices.body(invoices.calls("POST", "/v1/resync")[0])
    assert dry == {
        "org_id": "org_demo",
        "filter": {"status": "failed", "error_codes": ["contact_missing"]},
        "dry_run": True,
    }
    invoices.routes[("POST", "/v1/resync")] = {"batch_id": "b_1", "count": 4}
    response = console.client.post(
        "/orgs/org_demo/resync",
        data={"csrf_token": console.csrf(), "status": "failed", "error_code": "contact_missing"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/orgs/org_demo/batches/b_1"
    started = invoices.body(invoices.calls("POST", "/v1/resync")[1])
    assert started["requested_by"] == "console:operator" and "dry_run" not in started
    entry = console.audit.entries[-1]
    assert (entry.action, entry.batch_id, entry.detail["count"]) == ("bulk_resync", "b_1", 4)


def test_a_service_down_is_named_and_the_rest_of_the_page_works(console: Console) -> None:
    console.sign_in("viewer")
    console.services["sync-log"].down = True
    page = console.client.get("/orgs/org_demo/sync-log")
    assert page.status_code == 200
    assert "sync-log is not reachable" in page.text
    assert 'id="org-switch"' in page.text  # the layout and the switcher still work
    console.services["sync-log"].down = False
    console.services["xero-connector"].down = True
    overview = console.client.get("/")
    assert overview.status_code == 200 and "xero-connector is not reachable" in overview.text


def test_no_service_key_or_secret_reaches_the_browser(console: Console) -> None:
    console.sign_in("admin")
    secrets = [*KEYS.values(), SESSION_SECRET, "$argon2"]
    paths = [
        "/",
        "/orgs/org_demo",
        "/orgs/org_demo/sync-log",
        "/orgs/org_demo/settings",
        "/orgs/org_demo/resync?status=failed",
        "/audit",
        "/login",
    ]
    for path in paths:
        response = console.client.get(path)
        seen = response.text + str(response.headers)
        for secret in secrets:
            assert secret not in seen, (path, secret)


def test_saving_settings_that_fix_a_cause_offers_the_resync(console: Console) -> None:
    console.sign_in("admin")
    connector = console.services["xero-connector"]
    saved = {
        "sync_mode": "automatic",
        "auto_create_contacts": True,
        "invoice_status": "AUTHORISED",
        "default_account_code": None,
    }
    connector.routes[("PUT", "/v1/orgs/org_demo/settings")] = saved
    page = console.client.post(
        "/orgs/org_demo/settings",
        data={
            "csrf_token": console.csrf(),
            "sync_mode": "automatic",
            "auto_create_contacts": "on",
            "invoice_status": "AUTHORISED",
        },
    )
    assert "4 invoices failed on causes this fixes: re-sync them?" in page.text
    put = connector.calls("PUT", "/v1/orgs/org_demo/settings")[0]
    assert connector.body(put)["auto_create_contacts"] is True
    assert console.audit.entries[-1].action == "settings_saved"


def test_a_mapping_xero_would_refuse_is_not_saved(console: Console) -> None:
    console.sign_in("admin")
    connector = console.services["xero-connector"]
    connector.routes[("POST", "/v1/orgs/org_demo/mappings/check")] = {
        "ok": False,
        "problems": [{"message": "Tax type NOPE is not an active tax rate in Xero."}],
    }
    page = console.client.post(
        "/orgs/org_demo/mappings",
        data={"csrf_token": console.csrf(), "tax_rates:GST15": "NOPE"},
    )
    assert page.status_code == 422
    assert "Tax type NOPE is not an active tax rate in Xero." in page.text
    proposal = connector.body(connector.calls("POST", "/v1/orgs/org_demo/mappings/check")[0])
    assert proposal["tax_rates"] == {"GST15": "NOPE"}
    assert proposal["accounts"] == {"consulting": "200"}  # kept from the current mapping
    assert connector.calls("PUT", "/v1/orgs/org_demo/mappings") == []
    assert console.audit.entries[-1].outcome == "refused"


def test_reset_needs_the_organisation_typed(console: Console) -> None:
    console.sign_in("admin")
    wrong = console.client.post(
        "/orgs/org_demo/reset", data={"csrf_token": console.csrf(), "confirm": "org_dem"}
    )
    assert wrong.status_code == 422 and "Type org_demo exactly" in wrong.text
    assert console.services["xero-connector"].calls("POST", "/v1/orgs/org_demo/reset") == []


def test_the_audit_page_lists_actions(console: Console) -> None:
    console.sign_in("admin")
    page = console.client.get("/audit")
    assert "sign_in" in page.text and "admin" in page.text


def test_a_refusal_names_the_fields_the_service_refused(console: Console) -> None:
    console.sign_in("admin")
    refused = {
        "error": {
            "code": "invalid_request",
            "message": "the request is invalid",
            "details": [{"field": "body.default_account_code", "message": "too long"}],
        }
    }
    console.services["xero-connector"].routes[("PUT", "/v1/orgs/org_demo/settings")] = (
        httpx.Response(422, json=refused)
    )
    page = console.client.post(
        "/orgs/org_demo/settings",
        data={"csrf_token": console.csrf(), "default_account_code": "x" * 11},
    )
    assert page.status_code == 422
    assert "xero-connector refused" in page.text
    assert "body.default_account_code: too long" in page.text


def test_ops_endpoints_answer_without_a_session(console: Console) -> None:
    assert console.client.get("/healthz").json() == {"status": "ok"}
    assert "http_requests_total" in console.client.get("/metrics").text
    ready = console.client.get("/readyz")
    # The fakes answer 404 to /healthz and MongoDB is not there: not ready, each check named.
    assert ready.status_code == 503
    assert set(ready.json()["checks"]) == {
        "mongodb",
        "invoice-events",
        "xero-connector",
        "sync-log",
    }


def test_the_date_filters_name_whole_utc_days(console: Console) -> None:
    console.sign_in("operator")
    page = console.client.get("/orgs/org_demo/sync-log?since=2026-11-01&until=2026-11-30")
    assert page.status_code == 200
    query = console.services["sync-log"].calls("GET", "/v1/invoices")[-1].url.params
    assert query["since"] == "2026-11-01T00:00:00+00:00"
    assert query["until"] == "2026-12-01T00:00:00+00:00"  # the 30th included
    console.client.get("/orgs/org_demo/resync?status=failed&since=2026-11-01&until=2026-11-30")
    invoices = console.services["invoice-events"]
    dry = invoices.body(invoices.calls("POST", "/v1/resync")[-1])
    assert dry["filter"]["since"] == "2026-11-01T00:00:00Z"
    assert dry["filter"]["until"] == "2026-12-01T00:00:00Z"
    bad = console.client.get("/orgs/org_demo/sync-log?since=yesterday")
    assert bad.status_code == 422 and "since" in bad.text


def test_the_worklist_pages_by_key_and_keeps_its_filters(console: Console) -> None:
    console.sign_in("viewer")
    sync_log = console.services["sync-log"]
    first = sync_log.routes[("GET", "/v1/invoices")]
    sync_log.routes[("GET", "/v1/invoices")] = {**first, "next_cursor": "abc=="}
    page = console.client.get("/orgs/org_demo/sync-log?status=failed")
    assert (
        'href="/orgs/org_demo/sync-log?status=failed&amp;cursor=abc%3D%3D" rel="next"' in page.text
    )
    console.client.get("/orgs/org_demo/sync-log?status=failed&cursor=abc%3D%3D")
    asked = sync_log.calls("GET", "/v1/invoices")[-1].url.params
    assert asked["cursor"] == "abc==" and asked["status"] == "failed"
    assert asked["org_id"] == "org_demo"


def test_the_return_from_xero_is_recorded_once(console: Console) -> None:
    console.sign_in("admin")
    back = console.client.get(
        "/orgs/org_demo?xero=connected&org_id=org_demo", follow_redirects=False
    )
    assert back.status_code == 303 and back.headers["location"] == "/orgs/org_demo?done=connected"
    card = console.client.get(back.headers["location"])
    assert "Connected to Xero" in card.text
    console.client.get(back.headers["location"])  # a reload
    returns = [e for e in console.audit.entries if e.action == "connect_returned"]
    assert [(e.org_id, e.outcome) for e in returns] == [("org_demo", "ok")]
    failed = console.client.get("/orgs/org_demo?xero=error&reason=access_denied")
    assert "Xero did not connect: access_denied" in failed.text

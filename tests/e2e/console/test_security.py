"""Roles, CSRF, sign-in and secrets, in a real browser against the running stack."""

import re

from playwright.sync_api import Error, Page, Response, expect

from local_infra.stack import Stack
from tests.e2e.console.conftest import SignIn

ORG = "org_demo"


def test_a_viewer_sees_no_controls_and_a_forged_request_is_refused(
    signed_in: SignIn, e2e_stack: Stack
) -> None:
    page = signed_in("viewer")
    page.goto(f"/orgs/{ORG}/sync-log")
    expect(page.get_by_role("heading", name="Sync Log")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Re-sync"))).to_have_count(0)
    expect(page.get_by_role("link", name="Re-sync all matching…")).to_have_count(0)
    page.goto(f"/orgs/{ORG}/mappings")
    expect(page.get_by_role("button", name="Check with Xero and save")).to_have_count(0)
    page.goto(f"/orgs/{ORG}")
    expect(page.get_by_role("button", name=re.compile("Connect|Reconnect"))).to_have_count(0)

    # Forged with the session's own valid CSRF token: the role still refuses it.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    for path, form in [
        (f"/orgs/{ORG}/resync", {"status": "failed"}),
        (f"/orgs/{ORG}/mappings", {"tax_rates:EXEMPT": "EXEMPTOUTPUT"}),
        (f"/orgs/{ORG}/disconnect", {}),
    ]:
        refused = page.request.post(path, form={**form, "csrf_token": token}, max_redirects=0)
        assert refused.status == 403, path
    connection = page.request.get(f"/orgs/{ORG}")
    assert "connected" in connection.text()


def test_a_request_without_the_csrf_token_is_refused(signed_in: SignIn) -> None:
    page = signed_in("admin")
    for path in (f"/orgs/{ORG}/disconnect", f"/orgs/{ORG}/settings", "/logout"):
        refused = page.request.post(path, form={}, max_redirects=0)
        assert refused.status == 403, path
        assert "Request refused" in refused.text()
    page.goto(f"/orgs/{ORG}")
    expect(page.locator("#connection-status")).to_contain_text("connected")


def test_a_wrong_password_does_not_say_whether_the_user_exists(
    signed_in: SignIn, e2e_stack: Stack
) -> None:
    page = signed_in("viewer")
    page.get_by_role("button", name="Sign out").click()
    messages = []
    for name in ("admin", "no-such-user"):
        page.goto("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        messages.append(page.locator("#login-error").inner_text())
    assert messages[0] == messages[1] == "The user name or password is wrong."


def test_no_service_key_token_or_secret_reaches_the_browser(
    signed_in: SignIn, e2e_stack: Stack
) -> None:
    secrets = {
        "the services' API key": e2e_stack.settings.dev_api_key,
        "the token encryption key": e2e_stack._token_key(),
        "a password hash": "$argon2",
        "a Bearer header": "Bearer ",
        "an OAuth token field": "refresh_token",
    }
    seen: list[Response] = []
    answers: list[tuple[str, str, str]] = []
    page = signed_in("admin")
    page.on("response", lambda response: seen.append(response))
    for path in [
        "/",
        f"/orgs/{ORG}",
        f"/orgs/{ORG}/sync-log",
        f"/orgs/{ORG}/mappings",
        f"/orgs/{ORG}/settings",
        f"/orgs/{ORG}/disconnect",
        f"/orgs/{ORG}/reset",
        f"/orgs/{ORG}/resync?status=failed",
        "/audit",
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        # Read now: the browser drops a page's bodies on the next navigation.
        answers += [(r.url, _body(page, r), str(r.all_headers())) for r in seen]
        seen.clear()
    assert len(answers) > 10  # pages, the stylesheet, htmx
    export = page.request.get(f"/orgs/{ORG}/sync-log.csv")  # a download, fetched as one
    assert export.ok and export.headers["content-type"].startswith("text/csv")
    answers.append((export.url, export.text(), str(export.headers)))
    for url, text, headers in answers:
        for what, secret in secrets.items():
            assert secret not in text and secret not in headers, (what, url)


def _body(page: Page, response: Response) -> str:
    if not response.ok:  # a redirect has no body
        return ""
    try:
        return response.body().decode("utf-8", "replace")
    except Error:  # served from the browser's cache: ask again
        return page.request.get(response.url).text()


def test_the_old_sync_log_page_leads_to_the_console(signed_in: SignIn, e2e_stack: Stack) -> None:
    page = signed_in("viewer")
    page.goto(f"{e2e_stack.settings.sync_log_url}/")
    expect(page).to_have_url(re.compile(rf"^{e2e_stack.settings.console_url}/orgs/[^/]+/sync-log"))
    expect(page.get_by_role("heading", name="Sync Log")).to_be_visible()

"""Sign-in, sessions, CSRF and roles: who may do what, and what a refusal looks like."""

import time

import pytest

from console.auth import SIGN_IN_REFUSED
from tests.unit.console.conftest import PASSWORD, Console, csrf_of, make_console


def _login(console: Console, name: str, password: str) -> tuple[int, str]:
    page = console.client.get("/login")
    response = console.client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return response.status_code, response.text


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(console: Console) -> None:
    wrong = _login(console, "admin", "not the password")
    unknown = _login(console, "nobody", "not the password")
    assert wrong[0] == unknown[0] == 401
    assert SIGN_IN_REFUSED in wrong[1] and SIGN_IN_REFUSED in unknown[1]
    # The pages differ only in the name typed back into the form.
    assert wrong[1].replace('value="admin"', "") == unknown[1].replace('value="nobody"', "")


def test_the_session_cookie_is_signed_httponly_and_samesite(console: Console) -> None:
    page = console.client.get("/login")
    response = console.client.post(
        "/login",
        data={"name": "admin", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "console_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert response.headers["location"] == "/"


def test_pages_need_a_session(console: Console) -> None:
    response = console.client.get("/orgs/org_demo/sync-log", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_a_session_expires_after_its_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    made = make_console(session_max_age_seconds=600)
    with made.client:
        made.sign_in("viewer")
        assert made.client.get("/", follow_redirects=False).status_code == 200
        later = time.time() + 601
        monkeypatch.setattr(time, "time", lambda: later)
        response = made.client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    console.sign_in("operator")
    response = console.client.post("/orgs/org_demo/invoices/inv_1/sync", data={})
    assert response.status_code == 403
    forged = console.client.post(
        "/orgs/org_demo/invoices/inv_1/sync", data={"csrf_token": "guessed"}
    )
    assert forged.status_code == 403
    assert console.services["invoice-events"].requests == []


def test_the_htmx_header_carries_the_token_too(console: Console) -> None:
    console.sign_in("operator")
    token = console.csrf()
    response = console.client.post(
        "/orgs/org_demo/invoices/inv_1/sync",
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (
        len(console.services["invoice-events"].calls("POST", "/v1/invoices/org_demo/inv_1/sync"))
        == 1
    )


def test_sign_in_itself_needs_the_token(console: Console) -> None:
    console.client.get("/login")
    response = console.client.post("/login", data={"name": "admin", "password": PASSWORD})
    assert response.status_code == 403


def test_a_viewer_sees_no_resync_and_a_forged_one_is_refused(console: Console) -> None:
    console.sign_in("viewer")
    page = console.client.get("/orgs/org_demo/sync-log")
    assert page.status_code == 200 and "INV-1" in page.text
    assert "Re-sync" not in page.text
    token = csrf_of(page.text)  # the sign-out form's: a valid token
    response = console.client.post("/orgs/org_demo/invoices/inv_1/sync", data={"csrf_token": token})
    assert response.status_code == 403
    assert console.services["invoice-events"].requests == []


@pytest.mark.parametrize(
    ("role", "path", "form"),
    [
        ("viewer", "/orgs/org_demo/resync", {"status": "failed"}),
        ("operator", "/orgs/org_demo/mappings", {"tax_rates:GST15": "OUTPUT2"}),
        ("operator", "/orgs/org_demo/settings", {"auto_create_contacts": "on"}),
        ("operator", "/orgs/org_demo/connect", {}),
        ("operator", "/orgs/org_demo/disconnect", {}),
        ("operator", "/orgs/org_demo/reset", {"confirm": "org_demo"}),
    ],
)
def test_actions_above_ones_role_are_refused(
    console: Console, role: str, path: str, form: dict[str, str]
) -> None:
    console.sign_in(role)
    token = console.csrf()
    response = console.client.post(path, data={**form, "csrf_token": token})
    assert response.status_code == 403
    assert all(r.method == "GET" for s in console.services.values() for r in s.requests)


def test_an_operator_sees_no_mapping_or_settings_controls(console: Console) -> None:
    console.sign_in("operator")
    settings = console.client.get("/orgs/org_demo/settings").text
    assert "Save settings" not in settings and "<fieldset disabled" in settings
    card = console.client.get("/orgs/org_demo").text
    assert "Reconnect" not in card and "Reset" not in card


def test_next_never_leaves_the_console(console: Console) -> None:
    page = console.client.get("/login?next=//evil.example/x")
    assert 'value="//evil.example/x"' not in page.text
    response = console.client.post(
        "/login",
        data={
            "name": "admin",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_an_auth_proxy_header_names_the_user() -> None:
    made = make_console(auth_proxy_header="X-Forwarded-User")
    with made.client:
        page = made.client.get("/", headers={"X-Forwarded-User": "operator"})
        assert page.status_code == 200 and "operator" in page.text
        stranger = made.client.get(
            "/", headers={"X-Forwarded-User": "mallory"}, follow_redirects=False
        )
        assert stranger.status_code == 303

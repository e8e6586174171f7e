"""The shared HTTP shell: API keys, error bodies, health and metrics endpoints."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field, SecretStr

from service_kit.http import ApiError, ApiKeyAuth, create_app


class Body(BaseModel):
    name: str = Field(min_length=1)
    count: int


async def ready() -> bool:
    return True


async def not_ready() -> bool:
    return False


def build(readiness_ok: bool = True) -> FastAPI:
    app = create_app(
        "test-service",
        version="0",
        readiness={"kafka": ready, "mongodb": ready if readiness_ok else not_ready},
    )
    auth = ApiKeyAuth([SecretStr("key-one"), SecretStr("key-two")])

    @app.post("/v1/things", dependencies=[Depends(auth)])
    async def create(body: Body) -> dict[str, str]:
        if body.name == "taken":
            raise ApiError(409, "conflict", "name taken", {"name": body.name})
        return {"name": body.name}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic a2V5LW9uZQ==", "Bearer "])
async def test_missing_or_wrong_key_is_401_with_a_json_body(
    client: httpx.AsyncClient, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = await client.post("/v1/things", json={"name": "a", "count": 1}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", ["key-one", "key-two"])
async def test_any_configured_key_is_admitted(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        "/v1/things", json={"name": "a", "count": 1}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200


async def test_no_configured_key_admits_nobody() -> None:
    app = FastAPI()

    @app.get("/x", dependencies=[Depends(ApiKeyAuth([SecretStr("")]))])
    async def x() -> None: ...

    from service_kit.http import _add_error_handlers

    _add_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/x", headers={"Authorization": "Bearer "})).status_code == 401


async def test_invalid_body_is_422_with_one_entry_per_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/things",
        json={"name": "", "count": "many"},
        headers={"Authorization": "Bearer key-one"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert {d["field"] for d in error["details"]} == {"body.name", "body.count"}


async def test_api_error_uses_the_contract_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/things",
        json={"name": "taken", "count": 1},
        headers={"Authorization": "Bearer key-one"},
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "conflict", "message": "name taken", "details": {"name": "taken"}}
    }


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_public_endpoints_need_no_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_readyz_is_503_naming_the_failed_check() -> None:
    transport = httpx.ASGITransport(app=build(readiness_ok=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": True, "mongodb": False}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.post("/v1/things", json={"name": "a", "count": 1})
    text = (await client.get("/metrics")).text
    assert (
        'http_requests_total{method="POST",route="/v1/things",service="test-service",status="401"}'
        in text
    )

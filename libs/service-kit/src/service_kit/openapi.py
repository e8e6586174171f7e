"""The contract's error answers in a service's OpenAPI document.

    document_errors(app, public_paths)          # base_app does this for every service
    @router.get("/x/{id}", responses=error_responses(404))   # what only a route knows

Every error is ``{"error": {"code", "message", "details"}}`` (docs/contract.md), but FastAPI
documents only 422, in its own shape, which the services never send. ``document_errors`` gives
every operation but the probes what the shared shell may answer: 401 without a key (unless the
path is public), 503 while Kafka or MongoDB is away, 400 for a body that is not JSON, 413 for
one too large, and 422 in the contract's shape. A route adds the errors of its own use case
with ``error_responses``.
"""

from collections.abc import Callable, Collection
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from service_kit.http import OPS_PATHS


class Error(BaseModel):
    code: str
    message: str
    details: Any


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: Error


class FieldProblem(BaseModel):
    field: str
    message: str
    type: str | None = None


class InvalidRequest(Error):
    details: list[FieldProblem]


class InvalidBody(BaseModel):
    """A 422: one entry per offending field."""

    error: InvalidRequest


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered with the contract's error body."""
    return {
        status: {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def document_errors(app: FastAPI, public_paths: Collection[str]) -> None:
    """Add the shell's error answers to every operation of ``app``'s OpenAPI document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_errors(generate(), public_paths)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_errors(document: dict[str, Any], public_paths: Collection[str]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, InvalidBody):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definition.pop("$defs", {}))
        schemas[model.__name__] = definition
    for path, operations in document.get("paths", {}).items():
        if path in OPS_PATHS:  # no key, no body: their answers are their own
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            shell = [503] if path in public_paths else [401, 503]
            if "requestBody" in operation:
                shell += [400, 413]
            for status in shell:
                responses.setdefault(str(status), _answer(status, "ErrorBody"))
            if "422" in responses:
                responses["422"] = _answer(422, "InvalidBody")


def _answer(status: int, schema: str) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }

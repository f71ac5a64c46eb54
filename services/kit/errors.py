"""One error model for every service: RFC 9457 problem details with per-field errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import DataError, OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.types import NO_NUL_MESSAGE, NO_NUL_PATTERN

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] = []


class AppError(Exception):
    """An error a route raises on purpose; subclasses fix the status and title."""

    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class NotFound(AppError):
    status, title = 404, "Not found"


class Conflict(AppError):
    status, title = 409, "Conflict"


class Unauthorized(AppError):
    status, title = 401, "Unauthorized"


class Forbidden(AppError):
    status, title = 403, "Forbidden"


class Unprocessable(AppError):
    status, title = 422, "Validation failed"


class TooManyRequests(AppError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(AppError):
    status, title = 503, "Service unavailable"


def field_error(field: str, message: str) -> Unprocessable:
    """A 422 naming one field, for checks pydantic cannot do (e.g. against the database)."""
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    body = Problem(type=type_, title=title, status=status, detail=detail, errors=errors or [])
    return JSONResponse(
        body.model_dump(), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def _loc(loc: tuple[Any, ...]) -> str:
    # ("body", "trip", "end_date") → "trip.end_date": the client knows where it sent it.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _message(error: Any) -> str:
    """pydantic's message, said plainly where the rule is the shared `Text` type's."""
    kind = error.get("type")
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NO_NUL_PATTERN:
        return NO_NUL_MESSAGE
    if kind == "string_unicode":
        return "must be valid Unicode text (no unpaired surrogates)"
    return str(error.get("msg", ""))


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to a problem response; user mistakes are 4xx, never a 500."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            type_=exc.type,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(field=_loc(tuple(e.get("loc", ()))), message=_message(e))
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem_response(422, "Validation failed", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(
            exc.status_code, _title(exc.status_code), str(exc.detail), headers=headers
        )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A safety net behind the models' rules (`Text`, numeric bounds): a value PostgreSQL
        # refused is the request's fault, not the server's. The database's words stay in the log.
        log.warning("database refused a value: %s", exc)
        return problem_response(
            422, "Validation failed", "a value in the request cannot be stored (invalid data)"
        )

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return problem_response(
            503,
            "Service unavailable",
            "the database is not reachable; retry shortly",
            headers={"Retry-After": "5"},
        )


# What any operation may answer besides its success: every one is a problem+json body.
DOCUMENTED_PROBLEMS = {
    "400": "Bad request",
    "401": "Missing, invalid or expired bearer token",
    "403": "Not allowed for this caller",
    "404": "Not found (or not visible to this caller)",
    "409": "Conflict with the current state",
    "413": "Request body too large",
    "422": "Validation failed: `errors` names each field",
    "429": "Rate limit or lockout: see Retry-After",
    "503": "A dependency is unavailable or the replica is saturated: see Retry-After",
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the handlers above answer: problem+json errors (FastAPI
    documents its own 422 body, which this kit never sends). Clients and the fuzzer read it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        ref = "#/components/schemas/{model}"
        problem = Problem.model_json_schema(ref_template=ref)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        content = {PROBLEM_JSON: {"schema": {"$ref": ref.format(model="Problem")}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                for status, description in DOCUMENTED_PROBLEMS.items():
                    responses[status] = {"description": description, "content": content}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

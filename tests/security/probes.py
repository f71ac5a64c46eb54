"""Shared checks of the black-box probes: what every refused request must look like."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"
# What must never reach a client: Python's and PostgreSQL's own words, nginx's HTML.
LEAKS = ("Traceback", 'File "/', "psycopg", "sqlalchemy", "<html", "nginx/", "Internal Server")


def assert_problem(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    """`response` is a problem+json answer with `status` (or one of them), leaking nothing."""
    allowed = (status,) if isinstance(status, int) else status
    assert response.status_code in allowed, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    assert not any(leak in response.text for leak in LEAKS if leak != "Internal Server"), (
        response.text[:500]
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code and body["title"], body
    return body


def assert_names_field(response: httpx.Response, field: str) -> None:
    """A 422 problem whose `errors` name `field` (the last part of a dotted path)."""
    body = assert_problem(response, 422)
    fields = [e["field"] for e in body["errors"]]
    assert any(f == field or f.endswith(f".{field}") for f in fields), (field, body)

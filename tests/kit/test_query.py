"""A query model answers as FastAPI's own per-parameter checks do, and documents each parameter."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

from services.kit.errors import install_error_handlers
from services.kit.query import query_model, query_parameters
from services.kit.types import Text


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Search(BaseModel):
    x: float = Field(ge=-90, le=90, allow_inf_nan=False)
    n: int = Field(ge=1, le=50)
    colour: Colour | None = None
    name: Text | None = Field(None, max_length=5)
    limit: int = Field(20, ge=1, le=100)


class Painting(BaseModel):  # puts Colour in the document's components, as a response model does
    colour: Colour


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/model", openapi_extra={"parameters": query_parameters(Search)})
    async def by_model(q: Annotated[Search, Depends(query_model(Search))]) -> dict[str, Any]:
        return q.model_dump(mode="json")

    @app.get("/fields")
    async def by_fields(
        x: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
        n: Annotated[int, Query(ge=1, le=50)],
        colour: Colour | None = None,
        name: Annotated[Text | None, Query(max_length=5)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        return {"x": x, "n": n, "colour": colour, "name": name, "limit": limit}

    @app.get("/painting")
    async def painting() -> Painting:
        return Painting(colour=Colour.RED)

    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


QUERIES = [
    "x=1.5&n=3",
    "x=1.5&n=3&colour=blue&name=abc&limit=7",
    "x=1.5&n=3&unknown=1",  # ignored
    "x=1&x=2&n=3",  # the last one counts
    "n=3",  # x missing
    "x=inf&n=3",
    "x=91&n=3",
    "x=1&n=1.5",
    "x=1&n=0",
    "x=1&n=3&colour=green",
    "x=1&n=3&name=toolong",
    "x=1&n=3&name=a%00b",  # NUL
    "x=abc&n=zz&limit=0",  # three at once
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_model_answers_as_fastapis_parameters_do(
    client: httpx.AsyncClient, query: str
) -> None:
    by_model = await client.get(f"/model?{query}")
    by_fields = await client.get(f"/fields?{query}")
    assert by_model.status_code == by_fields.status_code, (by_model.text, by_fields.text)
    if by_model.status_code == 200:
        assert by_model.json() == by_fields.json()
    else:
        assert by_model.status_code == 422
        assert by_model.headers["content-type"].startswith("application/problem+json")
        fields = sorted(e["field"] for e in by_model.json()["errors"])
        assert fields == sorted(e["field"] for e in by_fields.json()["errors"])


def test_the_schema_lists_each_parameter_as_fastapi_would() -> None:
    doc = build_app().openapi()
    by_model = doc["paths"]["/model"]["get"]["parameters"]
    by_fields = doc["paths"]["/fields"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in by_model] == [
        (p["name"], p["in"], p["required"]) for p in by_fields
    ]
    for model_param, field_param in zip(by_model, by_fields, strict=True):
        for rule in ("type", "minimum", "maximum", "maxLength", "pattern", "default"):
            assert model_param["schema"].get(rule) == field_param["schema"].get(rule), rule
    colour = next(p for p in by_model if p["name"] == "colour")["schema"]
    ref = colour["anyOf"][0]["$ref"]
    assert ref == "#/components/schemas/Colour"
    assert "Colour" in doc["components"]["schemas"]

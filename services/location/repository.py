"""All SQL of location-service (schema `location_db`; PostGIS and pg_trgm in `public`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from services.kit.db import DictPool, schema_of
from services.location.schemas import PlaceIn

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]

# rating is numeric(2,1) in the table; float8 here so rows serialise without Decimal handling.
_COLUMNS = (
    "id, name_ko, name_en, category, city, district, country,"
    " ST_Y(geog::geometry) AS lat, ST_X(geog::geometry) AS lng, rating::float8 AS rating,"
    " visit_duration_min, opening_hours, price_level, tags"
)
_CENTRE = "ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography"


def escape_like(text: str) -> str:
    """`text` as a literal inside an ILIKE pattern (`%` and `_` match themselves)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PlaceRepository:
    def __init__(self, pool: DictPool) -> None:
        self.pool = pool

    async def _all(self, query: str, params: Params) -> list[Row]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def _one(self, query: str, params: Params) -> Row | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchone()

    async def by_id(self, place_id: str) -> Row | None:
        return await self._one(f"SELECT {_COLUMNS} FROM places WHERE id = %s", (place_id,))

    async def by_ids(self, place_ids: list[str]) -> list[Row]:
        """The places among `place_ids`, in no particular order."""
        return await self._all(f"SELECT {_COLUMNS} FROM places WHERE id = ANY(%s)", (place_ids,))

    async def in_city(
        self, city: str, category: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        """One page of a city's places, best rated first, and how many the city has in all."""
        where = "lower(city) = lower(%(city)s)"
        if category is not None:
            where += " AND category = %(category)s"
        params = {"city": city, "category": category, "limit": limit, "offset": offset}
        rows = await self._all(
            f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM places WHERE {where}"
            " ORDER BY rating DESC, id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        if rows:
            total = int(rows[0]["total"])
        else:  # past the last page the window count is not there to read
            counted = await self._one(f"SELECT count(*) AS total FROM places WHERE {where}", params)
            total = int(counted["total"]) if counted else 0
        for row in rows:
            del row["total"]
        return rows, total

    async def nearby(
        self, lat: float, lng: float, radius_m: int, limit: int, category: str | None = None
    ) -> list[Row]:
        """Places within `radius_m` of the point, nearest first, each with `distance_m`.

        Distances are on the sphere (`use_spheroid => false`), the same measure the KNN operator
        `<->` orders by, so the filter, the order and the reported distance agree.
        """
        where = f"ST_DWithin(geog, {_CENTRE}, %(radius)s, false)"
        if category is not None:
            where += " AND category = %(category)s"
        return await self._all(
            f"SELECT {_COLUMNS},"
            f" round(ST_Distance(geog, {_CENTRE}, false)::numeric, 1)::float8 AS distance_m"
            f" FROM places WHERE {where}"
            f" ORDER BY geog <-> {_CENTRE}, id LIMIT %(limit)s",
            {"lat": lat, "lng": lng, "radius": radius_m, "category": category, "limit": limit},
        )

    async def search_json(
        self, text: str | None, city: str | None, category: str | None, limit: int
    ) -> tuple[bytes, int]:
        """Places whose names (Korean or English) or tags match `text`, best match first, as a
        JSON array of `PlacePublic` objects rendered by PostgreSQL, and how many it holds.

        A name matches when it contains the text (case-insensitively) or is similar to it
        (trigram `%`, word similarity `<%`, which forgives misspelt romanisations); a tag
        matches when equal.
        The server writes the JSON (one value to fetch instead of a row of 14 columns a place to
        parse, validate and encode again); the columns and their aliases are `PlacePublic`'s,
        and `ARRAY(subquery)` keeps the subquery's order.
        """
        conditions: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        order = "rating DESC, id"
        if text is not None:
            params.update(text=text, like=f"%{escape_like(text)}%", tags=[text, text.lower()])
            # ILIKE as PostgreSQL runs it, on the stored lowered names: the pattern is lowered
            # once (an InitPlan), by the server's own lower().
            contains = (
                "(name_ko_lower LIKE (SELECT lower(%(like)s))"
                " OR name_en_lower LIKE (SELECT lower(%(like)s)))"
            )
            # Similar names share a trigram with the text: the overlap (the text's trigrams
            # once, too) passes few places on to the four similarity functions.
            conditions.append(
                f"({contains} OR tags && %(tags)s"
                " OR (name_trigrams && (SELECT show_trgm(%(text)s))"
                " AND (name_ko %% %(text)s OR name_en %% %(text)s"
                " OR %(text)s <%% name_ko OR %(text)s <%% name_en)))"
            )
            order = (
                "(CASE WHEN name_ko = %(text)s OR name_en_lower = (SELECT lower(%(text)s))"
                " THEN 2 ELSE 0 END"
                f" + CASE WHEN {contains} THEN 1 ELSE 0 END"
                " + CASE WHEN tags && %(tags)s THEN 0.5 ELSE 0 END"
                " + GREATEST(similarity(name_ko, %(text)s), similarity(name_en, %(text)s),"
                " word_similarity(%(text)s, name_ko), word_similarity(%(text)s, name_en))) DESC,"
                " rating DESC, id"
            )
        if city is not None:
            params["city"] = city
            conditions.append("lower(city) = lower(%(city)s)")
        if category is not None:
            params["category"] = category
            conditions.append("category = %(category)s")
        where = " AND ".join(conditions) or "true"
        # MATERIALIZED: read twice below, an inlined array would run the search twice.
        row = await self._one(
            "WITH search AS MATERIALIZED (SELECT ARRAY(SELECT p FROM (SELECT"
            f" {_COLUMNS} FROM places WHERE {where} ORDER BY {order} LIMIT %(limit)s) AS p)"
            " AS found) SELECT array_to_json(found)::text AS body, cardinality(found) AS count"
            " FROM search",
            params,
        )
        assert row is not None  # one row, whatever matched
        return row["body"].encode(), row["count"]

    async def cities(self) -> list[Row]:
        return await self._all(
            "SELECT city, country, place_count, lat, lng FROM cities ORDER BY country, city", ()
        )


_TABLE = f"{schema_of('location')}.places"
# Columns an upsert may change; comparing them first keeps a re-load from touching equal rows.
_MUTABLE = (
    "name_ko",
    "name_en",
    "category",
    "city",
    "district",
    "country",
    "rating",
    "visit_duration_min",
    "opening_hours",
    "price_level",
    "tags",
)
_UPSERT = (
    f"INSERT INTO {_TABLE} AS p (id, geog, {', '.join(_MUTABLE)})"
    " SELECT r.id, ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326)::geography,"
    f" {', '.join(f'r.{c}' for c in _MUTABLE)}"
    " FROM jsonb_to_recordset(%s) AS r(id text, lat float8, lng float8, name_ko text,"
    " name_en text, category text, city text, district text, country text, rating numeric,"
    " visit_duration_min integer, opening_hours jsonb, price_level smallint, tags text[])"
    " ON CONFLICT (id) DO UPDATE SET geog = EXCLUDED.geog,"
    f" {', '.join(f'{c} = EXCLUDED.{c}' for c in _MUTABLE)}, updated_at = now()"
    " WHERE ST_AsBinary(p.geog) IS DISTINCT FROM ST_AsBinary(EXCLUDED.geog)"
    f" OR ({', '.join(f'p.{c}' for c in _MUTABLE)})"
    f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in _MUTABLE)})"
)


async def upsert_places(conn: AsyncConnection[Any], places: list[PlaceIn]) -> int:
    """Insert or update `places` by id in one statement; returns the rows inserted or changed.

    The table is schema-qualified so any connection works, whatever its search_path.
    """
    if not places:
        return 0
    payload = Jsonb([place.model_dump(mode="json") for place in places])
    cur = await conn.execute(_UPSERT, (payload,))
    return max(cur.rowcount, 0)

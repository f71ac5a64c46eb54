"""The cached value of one nearby key: the whole distance-sorted list, already serialised.

One key (`location:{lat}:{lng}:{radius}`, SPEC.md) serves every category and limit, so the value
keeps each place's JSON separately addressable: a header holding, per place, the end offset of
its JSON and its category, then the places' JSON joined by commas. A response is cut out of
those bytes — the first n places are one slice, a category picks slices — so a cache hit neither
parses nor re-encodes JSON (FastAPI's encoder costs ~1 ms per 4 KB; see DESIGN.md "Measured").

Layout: MAGIC | flags u8 | count u32 | count × (end u32, category u8) | body.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from pydantic import TypeAdapter

from services.kit.vocabulary import Category
from services.location.schemas import NearbyPlace

# Change MAGIC with the layout: values of an older layout then read as unreadable, not garbage.
MAGIC = b"NBY1"
_HEAD = struct.Struct("<BI")
_ENTRY = struct.Struct("<IB")
_BODY_AT = len(MAGIC) + _HEAD.size
_COMPLETE = 0x01
# Categories by position; new members go at the end of the enum, so cached indices stay valid.
_CATEGORIES: tuple[Category, ...] = tuple(Category)
_CATEGORY_INDEX = {category: index for index, category in enumerate(_CATEGORIES)}
_PLACE_JSON = TypeAdapter(NearbyPlace)


def encode(places: Sequence[NearbyPlace], *, complete: bool) -> bytes:
    """The cache value for `places` (nearest first).

    `complete` is False when the query stopped at its row cap: the list then cannot answer a
    category filter, since matching places may lie beyond the cut.
    """
    items = [_PLACE_JSON.dump_json(place) for place in places]
    entries = bytearray()
    end = 0
    for place, item in zip(places, items, strict=True):
        end += len(item)
        entries += _ENTRY.pack(end, _CATEGORY_INDEX[place.category])
        end += 1  # the comma before the next item
    flags = _COMPLETE if complete else 0
    return MAGIC + _HEAD.pack(flags, len(items)) + bytes(entries) + b",".join(items)


def is_readable(value: bytes) -> bool:
    """True when `value` has this module's layout (not one written by an older version)."""
    return value.startswith(MAGIC) and len(value) >= _BODY_AT


def page(value: bytes, limit: int, category: Category | None = None) -> bytes | None:
    """The JSON body of a `NearbyPage` with the first `limit` places (of `category`, if given).

    None when the list cannot answer: it was cut at its cap, and a category or more places
    than it holds are asked of it.
    """
    flags, count = _HEAD.unpack_from(value, len(MAGIC))
    complete = bool(flags & _COMPLETE)
    body_at = _BODY_AT + count * _ENTRY.size
    if category is None:
        if limit > count and not complete:
            return None
        taken = min(limit, count)
        if taken == 0:
            return _wrap(b"", 0)
        end, _ = _ENTRY.unpack_from(value, _BODY_AT + (taken - 1) * _ENTRY.size)
        return _wrap(value[body_at : body_at + end], taken)
    if not complete:
        return None
    wanted = _CATEGORY_INDEX[category]
    chosen: list[bytes] = []
    start = 0
    for end, index in _ENTRY.iter_unpack(value[_BODY_AT:body_at]):
        if index == wanted:
            chosen.append(value[body_at + start : body_at + end])
            if len(chosen) == limit:
                break
        start = end + 1
    return _wrap(b",".join(chosen), len(chosen))


def _wrap(items: bytes, count: int) -> bytes:
    # The same key order as NearbyPage's fields.
    return b'{"items":[' + items + b'],"count":' + str(count).encode() + b"}"

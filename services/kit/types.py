"""Field types every service's models and query parameters share.

`Text` is a `str` that PostgreSQL can store: `text` columns refuse NUL (U+0000), so a NUL is
refused at the edge with a 422 naming the field instead of failing deep in a query. It is a
pattern, not a validator function, so it merges with the length rules a field adds
(`Annotated[Text, StringConstraints(max_length=100)]` keeps "at most 100 characters") and shows
in the OpenAPI schema. With a pattern set, pydantic also refuses a lone UTF-16 surrogate (JSON
allows `"\\ud800"`; it cannot be encoded to UTF-8), as `string_unicode`.

A field with a pattern of its own (ids) must exclude NUL in that pattern: a second pattern
replaces this one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

NO_NUL_PATTERN = r"^[^\x00]*$"
NO_NUL_MESSAGE = "must not contain NUL (U+0000) characters"

Text = Annotated[str, StringConstraints(pattern=NO_NUL_PATTERN)]

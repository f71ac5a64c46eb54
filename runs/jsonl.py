"""JSON Lines side files: the prober, the locustfile's custom samples and the chaos runner each
append one record per line while a run is in progress, and the results builder reads them after.

Lines are appended with a single `write` on a file opened in append mode, so several writers
(locust `--processes`, a prober thread) can share a file without interleaving partial lines
(O_APPEND makes each write land at the end atomically for the sizes written here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class JsonlError(ValueError):
    """A side file holds a line that is not a valid record (file and line number say where)."""


def dump_line(record: BaseModel | dict[str, Any]) -> str:
    """One record as a JSON line (with the newline)."""
    if isinstance(record, BaseModel):
        return record.model_dump_json() + "\n"
    return json.dumps(record, separators=(",", ":")) + "\n"


def append_jsonl(path: Path, record: BaseModel | dict[str, Any]) -> None:
    """Append one record and flush it, so a crash loses at most the line being written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(dump_line(record))


def iter_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Records of `model`, one per line; blank lines are skipped.

    A malformed *last* line is dropped silently: it is what a writer killed mid-line leaves
    (chaos experiments kill processes on purpose). A malformed line anywhere else is corruption
    and raises `JsonlError`.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    last = len(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield model.model_validate_json(line)
        except ValidationError as exc:
            if number == last and not line.endswith("}"):
                return
            raise JsonlError(f"{path}:{number}: not a {model.__name__} record: {exc}") from exc


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    """All records of a side file; an absent file reads as empty (nothing was recorded)."""
    if not path.exists():
        return []
    return list(iter_jsonl(path, model))

"""Where each item of SPEC.md (../shared/SPEC.md) lives in this repository and which test holds it.

The table is `items()`, assembled from the `items_*.py` modules of this package (one per group
of SPEC.md sections; the item's shape is `model.SpecItem`). Each item quotes one SPEC.md row or
figure and says either where it is implemented and which tests assert it, or why it is out of
scope here. An out-of-scope item may still name the tests of the part that exists ("partly
tested").

    python -m tests.spec.coverage            # rewrite docs/spec-coverage.md from the table
    python -m tests.spec.coverage --check    # exit 1 when the table or the document is wrong
    python -m tests.spec.coverage --pending  # out-of-scope items other work may cover

To update an item: edit its entry (move the reason out, add `implemented_in` / `tested_by`),
regenerate the document, and run `pytest tests/spec`; tests/spec/test_spec_coverage.py checks
every cited path and test exists and the document matches the table.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.spec import items_data, items_platform, items_security, items_targets
from tests.spec.model import SECTIONS, SpecItem

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = REPO_ROOT / "docs" / "spec-coverage.md"


def items() -> tuple[SpecItem, ...]:
    """Every SPEC.md item, in SPEC.md's order."""
    return (
        *items_platform.ITEMS,
        *items_security.ITEMS,
        *items_data.ITEMS,
        *items_targets.ITEMS,
    )


ITEM_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# A reason must say why; "not yet implemented" alone tells the reader nothing.
PLACEHOLDER_WORDS = frozenset({"not", "yet", "implemented", "todo", "tbd", "pending", "wip"})


@cache
def collected_names(path: Path) -> frozenset[str]:
    """Test functions of a test file, as pytest names them: `test_x` and `TestY::test_x`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{f.name}" for f in node.body if isinstance(f, functions))
    return frozenset(n for n in names if n.rsplit("::", 1)[-1].startswith("test"))


def _path_problem(path: str, root: Path) -> str | None:
    if not path or Path(path).is_absolute() or ".." in Path(path).parts:
        return f"{path!r} is not a path inside the repository"
    if not (root / path).exists():
        return f"{path} does not exist"
    return None


def _node_problem(node_id: str, root: Path) -> str | None:
    path, sep, name = node_id.partition("::")
    if not sep or not name:
        return f"{node_id!r} is not a pytest node id (path::test_name)"
    if not path.startswith("tests/") or not path.endswith(".py"):
        return f"{node_id}: {path} is not a test file under tests/"
    problem = _path_problem(path, root)
    if problem:
        return f"{node_id}: {problem}"
    function = name.split("[", 1)[0]  # the parametrised case's id is not checked
    if function not in collected_names(root / path):
        return f"{node_id}: no test {function} in {path}"
    return None


def _says_why(reason: str) -> bool:
    words = set(re.findall(r"[a-z]+", reason.lower()))
    one_line = "\n" not in reason.strip()
    return (
        one_line and "not yet implemented" not in reason.lower() and bool(words - PLACEHOLDER_WORDS)
    )


def problems(table: Sequence[SpecItem], root: Path = REPO_ROOT) -> list[str]:
    """Everything wrong with the table, one `item-id: message` per problem."""
    found: list[str] = []
    seen: set[str] = set()
    for item in table:
        say = found.append
        if not ITEM_ID.match(item.id):
            say(f"{item.id!r}: ids are lower-case words joined by dashes")
        if item.id in seen:
            say(f"{item.id}: id used twice")
        seen.add(item.id)
        if item.section not in SECTIONS:
            say(f"{item.id}: unknown section {item.section!r}")
        if not item.quote.strip():
            say(f"{item.id}: quote the SPEC.md row")
        if not item.tested_by and not item.out_of_scope.strip():
            say(f"{item.id}: neither a test nor an out-of-scope reason")
        if item.out_of_scope and not _says_why(item.out_of_scope):
            say(f"{item.id}: the out-of-scope reason must be one line saying why")
        if item.covered and not item.implemented_in:
            say(f"{item.id}: a covered item names where it is implemented")
        for path in item.implemented_in:
            problem = _path_problem(path, root)
            if problem:
                say(f"{item.id}: {problem}")
        for node_id in item.tested_by:
            problem = _node_problem(node_id, root)
            if problem:
                say(f"{item.id}: {problem}")
    return found


@dataclass(frozen=True)
class Counts:
    total: int
    covered: int
    out_of_scope: int
    partly_tested: int


def counts(table: Sequence[SpecItem]) -> Counts:
    out = [i for i in table if not i.covered]
    return Counts(
        total=len(table),
        covered=len(table) - len(out),
        out_of_scope=len(out),
        partly_tested=sum(1 for i in out if i.tested_by),
    )


def summary_line(table: Sequence[SpecItem]) -> str:
    c = counts(table)
    return (
        f"{c.total} SPEC.md items: {c.covered} covered by a test, {c.out_of_scope} out of scope "
        f"({c.partly_tested} of them partly tested)."
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code_list(values: Iterable[str]) -> str:
    return "<br>".join(f"`{_cell(v)}`" for v in values) or "—"


def _evidence(item: SpecItem) -> str:
    parts = []
    if item.out_of_scope:
        parts.append(f"**Out of scope:** {_cell(item.out_of_scope)}")
    if item.tested_by:
        label = "Tested (part)" if item.out_of_scope else "Tested"
        parts.append(f"{label}: {_code_list(item.tested_by)}")
    if item.note:
        parts.append(f"*Note:* {_cell(item.note)}")
    return "<br>".join(parts)


HEADER = """\
# SPEC.md coverage

Generated by `python -m tests.spec.coverage` from the table in `tests/spec/` — do not edit by
hand. Every row quotes an item of [`../shared/SPEC.md`](../../shared/SPEC.md) and says where the
repository implements it and which test asserts it, or why it is out of scope here.
`tests/spec/test_spec_coverage.py` fails when an item has neither a test nor a reason, when a
cited path or test does not exist, or when this file is out of date.
"""


def render(table: Sequence[SpecItem]) -> str:
    """The Markdown document: a summary line, then one table per SPEC.md section."""
    lines = [HEADER, f"**{summary_line(table)}**", ""]
    for section in SECTIONS:
        rows = [i for i in table if i.section == section]
        if not rows:
            continue
        lines += [
            f"## {section}",
            "",
            "| id | SPEC.md | status | implemented in | test, or why out of scope |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{i.id}` | {_cell(i.quote)} | {i.status} | {_code_list(i.implemented_in)} "
            f"| {_evidence(i)} |"
            for i in rows
        ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.spec.coverage", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when the document is stale")
    mode.add_argument("--pending", action="store_true", help="list items other work may cover")
    args = parser.parse_args(argv)
    table = items()
    if args.pending:
        pending = [item for item in table if item.pending and not item.covered]
        for item in pending:
            print(f"{item.id:28} {item.pending}")
        if not pending:
            print("no pending items: every out-of-scope item says why it stays out")
        return 0
    text = render(table)
    current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
    if args.check:
        for problem in problems(table):
            print(problem)
        if current != text:
            print(f"{DOC_PATH.relative_to(REPO_ROOT)} is stale: run python -m tests.spec.coverage")
            return 1
        print(f"{DOC_PATH.relative_to(REPO_ROOT)} is current. {summary_line(table)}")
        return 1 if problems(table) else 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}: {summary_line(table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The SPEC.md coverage table (tests/spec/coverage.py) is complete, cites what exists, and
docs/spec-coverage.md is its current rendering. Pure file reads: no pytest collection run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.spec import coverage
from tests.spec.model import SECTIONS, SpecItem

TABLE = coverage.items()


def item(**fields: object) -> SpecItem:
    base: dict[str, object] = {
        "id": "x-item",
        "section": SECTIONS[0],
        "quote": "a figure",
        "implemented_in": ("README.md",),
        "tested_by": ("tests/spec/test_spec_coverage.py::test_the_table_has_no_problems",),
    }
    return SpecItem(**{**base, **fields})  # type: ignore[arg-type]


def test_the_table_has_no_problems() -> None:
    # every item has a test or a one-line reason; every cited path and test exists
    assert coverage.problems(TABLE) == []


def test_the_document_is_current() -> None:
    # regenerate with `python -m tests.spec.coverage`
    assert coverage.DOC_PATH.read_text(encoding="utf-8") == coverage.render(TABLE), (
        "docs/spec-coverage.md is stale: run python -m tests.spec.coverage"
    )


def test_every_section_of_spec_md_has_items() -> None:
    assert {i.section for i in TABLE} == set(SECTIONS)
    assert len(TABLE) >= 100


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"tested_by": (), "out_of_scope": ""}, "neither a test nor an out-of-scope reason"),
        ({"tested_by": (), "out_of_scope": "Not yet implemented."}, "one line saying why"),
        ({"tested_by": (), "out_of_scope": "TODO"}, "one line saying why"),
        ({"tested_by": (), "out_of_scope": "Azure only\nand more"}, "one line saying why"),
        ({"implemented_in": ()}, "names where it is implemented"),
        ({"implemented_in": ("services/nowhere.py",)}, "services/nowhere.py does not exist"),
        ({"implemented_in": ("../shared/SPEC.md",)}, "not a path inside the repository"),
        ({"tested_by": ("tests/spec/test_spec_coverage.py",)}, "not a pytest node id"),
        ({"tested_by": ("services/kit/cache.py::test_x",)}, "not a test file under tests/"),
        ({"tested_by": ("tests/kit/test_gone.py::test_x",)}, "does not exist"),
        (
            {"tested_by": ("tests/kit/test_cache.py::test_no_such_thing[p]",)},
            "no test test_no_such_thing in tests/kit/test_cache.py",
        ),
        ({"section": "Elsewhere"}, "unknown section"),
        ({"id": "Bad Id"}, "lower-case words joined by dashes"),
        ({"quote": " "}, "quote the SPEC.md row"),
    ],
)
def test_each_kind_of_mistake_is_named(fields: dict[str, object], complaint: str) -> None:
    (problem,) = coverage.problems([item(**fields)])
    assert complaint in problem


def test_parametrised_ids_and_class_methods_are_found(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_sample.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('x', [1])\n"
        "async def test_plain(x): ...\n"
        "class TestGroup:\n"
        "    def test_method(self): ...\n"
        "    def helper(self): ...\n"
        "def helper(): ...\n"
    )
    ids = (
        "tests/test_sample.py::test_plain[1]",
        "tests/test_sample.py::TestGroup::test_method",
        "tests/test_sample.py::TestGroup::helper",
        "tests/test_sample.py::helper",
    )
    found = coverage.problems(
        [item(implemented_in=(), tested_by=ids, out_of_scope="why")], tmp_path
    )
    assert [p.rsplit(": ", 1)[-1] for p in found] == [
        "no test TestGroup::helper in tests/test_sample.py",
        "no test helper in tests/test_sample.py",
    ]


def test_a_duplicate_id_is_named() -> None:
    assert coverage.problems([item(), item()]) == ["x-item: id used twice"]


def test_render_counts_and_escapes() -> None:
    table = [
        item(quote="a | b"),
        item(id="y-item", tested_by=(), implemented_in=(), out_of_scope="Azure only"),
        item(id="z-item", out_of_scope="only part"),
    ]
    text = coverage.render(table)
    assert "3 SPEC.md items: 1 covered by a test, 2 out of scope (1 of them partly tested)." in text
    assert "a \\| b" in text
    assert "| `y-item` | a figure | out of scope | — | **Out of scope:** Azure only |" in text
    assert "out of scope, partly tested" in text


def test_pending_items_stay_out_of_the_document() -> None:
    text = coverage.render([item(id="p-item", tested_by=(), out_of_scope="why", pending="team")])
    assert "team" not in text


def test_cli_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert coverage.main(["--check"]) == 0
    assert "is current" in capsys.readouterr().out


def test_cli_pending_lists_uncovered_pending_items(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = [
        item(id="p-item", tested_by=(), out_of_scope="why", pending="rollouts"),
        item(id="done-item", pending="rollouts"),
    ]
    monkeypatch.setattr(coverage, "items", lambda: table)
    assert coverage.main(["--pending"]) == 0
    assert capsys.readouterr().out.split() == ["p-item", "rollouts"]
    monkeypatch.setattr(coverage, "items", lambda: table[1:])
    assert coverage.main(["--pending"]) == 0
    assert "no pending items" in capsys.readouterr().out

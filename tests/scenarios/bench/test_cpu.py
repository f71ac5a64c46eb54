"""The benchmark's CPU accounting (per process class, per request), its flame graph and its
replica modes — the parts that need no deployment."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenarios.bench.cpu import CaseCpu, cpu_table, idle_rates, net_of_idle, per_request_ms
from scenarios.bench.deployment import mode_settings
from scenarios.bench.flamegraph import render_svg, write_flamegraph
from scenarios.bench.pyspy import parse_collapsed
from scenarios.bench.suite import build_parser
from scenarios.load.usage import TreeCpu, children_cpu_s, cpu_by_class, process_class
from simulation.profiles import SERVICES

_BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pg-1", "postgresql"),
        ("pg-monitor", "postgresql"),
        ("postgresql", "postgresql"),
        ("postgres-exporter-1", "monitoring"),
        ("redis-2", "redis"),
        ("sentinel-3", "redis"),
        ("redis-exporter", "monitoring"),
        ("prometheus", "monitoring"),
        ("nginx-exporter", "monitoring"),
        ("nginx", "nginx"),
        ("trip", "trip"),
    ],
)
def test_processes_fall_into_their_class(name: str, kind: str) -> None:
    assert process_class(name) == kind


def test_cpu_is_summed_per_class_and_divided_per_request() -> None:
    classes = cpu_by_class({"pg-1": 1.0, "pg-2": 0.5, "sentinel-1": 0.1, "redis-1": 0.4, "trip": 2})
    assert classes == {"postgresql": 1.5, "redis": 0.5, "trip": 2.0}
    assert per_request_ms(classes, 500) == {"postgresql": 3.0, "redis": 1.0, "trip": 4.0}
    assert per_request_ms(classes, 0) == {}  # a case that counted nothing has no figure


def test_idle_cpu_is_taken_off_per_class() -> None:
    idle = idle_rates({"pg-1": 0.5, "pg-monitor": 0.5, "trip": 0.05}, 5.0)
    assert idle == {"postgresql": 0.2, "trip": 0.01}
    net = net_of_idle({"postgresql": 3.0, "trip": 0.1, "nginx": 1.0}, idle, 10.0)
    assert net == {"postgresql": 1.0, "trip": 0.0, "nginx": 1.0}  # never below zero


def test_a_process_tree_and_reaped_children_are_metered() -> None:
    # The child burns only once the meter has started and says when it is done, so the meter
    # covers the whole burn however slowly a loaded machine runs either process.
    burn_on_cue = "import sys\nsys.stdin.readline()\n" + _BURN.format(s=0.3)
    child = subprocess.Popen(
        [sys.executable, "-c", burn_on_cue + "print('done', flush=True)\ntime.sleep(30)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        meter = TreeCpu([("baseline", "b-1", child.pid)]).start()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        used = meter.stop()
    finally:
        child.kill()
        child.wait()
    assert 0.28 <= used["baseline"] <= 0.6
    before = children_cpu_s()
    subprocess.run([sys.executable, "-c", _BURN.format(s=0.3)], check=True)
    assert children_cpu_s() - before >= 0.25  # what locust spends is counted once reaped


def test_case_cpu_adds_locust_and_the_rest_of_the_machine() -> None:
    cpu = CaseCpu.start()
    subprocess.run([sys.executable, "-c", _BURN.format(s=0.2)], check=True)
    classes, _ = cpu.stop({"trip": 0.0})
    assert classes["locust"] >= 0.15
    assert classes["other"] >= 0.0
    table = cpu_table("t", [("trip creation", 100, per_request_ms(classes, 100))])
    assert [c.header for c in table.columns][:3] == ["case", "n", "trip"]


def test_a_case_driven_from_this_process_counts_it_as_client_outside_the_stack() -> None:
    cpu = CaseCpu.start(client=True)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # this process burns 0.2 s, as the AI client does
        pass
    classes, _ = cpu.stop({"trip": 0.1})
    assert classes["client"] >= 0.15 and "client" not in CaseCpu.start().stop({})[0]
    table = cpu_table("t", [("AI generation", 1, per_request_ms(classes, 1))])
    headers = [c.header for c in table.columns]
    assert "client" in headers
    row = [next(iter(c.cells)) for c in table.columns]
    assert row[headers.index("stack total")] == "100.00"  # trip only: client is not the stack


def test_flame_graph_boxes_are_as_wide_as_their_samples(tmp_path: Path) -> None:
    raw = "main (a.py:1);handle (b.py:2) 75\nmain (a.py:1);encode (c.py:3) 25\nnot a stack\n"
    stacks = parse_collapsed(raw)
    assert stacks == [
        (["main (a.py)", "handle (b.py)"], 75),
        (["main (a.py)", "encode (c.py)"], 25),
    ]
    svg = render_svg(stacks, "trip creation")
    assert svg.startswith("<svg") and "(100 samples)" in svg
    assert "handle (b.py) — 75 samples, 75.0%" in svg
    assert 'width="900.0"' in svg and 'width="300.0"' in svg  # 75% and 25% of 1,200 px
    (tmp_path / "py-spy.txt").write_text(raw)
    out = write_flamegraph(tmp_path / "py-spy.txt", tmp_path / "flamegraph.svg", "x")
    assert out.read_text().count("<rect") == 4  # all, main, handle, encode


def test_replica_modes() -> None:
    env, counts = mode_settings("prod")
    assert counts == {} and "TRIPGEN_WORKERS" not in env
    env, counts = mode_settings("one")
    assert counts == dict.fromkeys(SERVICES, 1)
    assert int(env["TRIPGEN_WORKERS"]) >= 1 and env["TRIPGEN_RATE_LIMIT_PER_MINUTE"] == "0"
    assert build_parser().parse_args(["--replicas", "both"]).replicas == "both"

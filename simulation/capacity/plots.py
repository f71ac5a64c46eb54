"""Simulation plots as PNG bytes (matplotlib's object API on the Agg canvas, like the SLA
report): load and p95 over time, replicas per service against their HPA maximum, nodes per zone.
The judged window is shaded; a zone loss is marked."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simulation.capacity.des.results import SimulationResult


def _figure(rows: int, height: float = 2.8) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(10, height * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(rows, 1, i + 1) for i in range(rows)]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _minutes(result: SimulationResult) -> np.ndarray:
    return result.series["t"] / 60


def _marks(axes: Axes, result: SimulationResult) -> None:
    axes.axvspan(result.judged_from_s / 60, result.duration_s / 60, color="tab:blue", alpha=0.06)
    for event in result.events:
        if event.kind == "zone-lost":
            axes.axvline(event.at_s / 60, color="tab:red", linewidth=1.2, label="zone lost")
    axes.grid(True, alpha=0.3)


def timeline(result: SimulationResult, p95_objective_ms: float | None) -> bytes:
    """Offered vs served load, failures, and the sampled general-API p95 over time."""
    figure, (load, latency) = _figure(2)
    t = _minutes(result)
    s = result.series
    load.plot(t, s["offered_rps"], label="offered", color="tab:gray")
    load.plot(t, s["completed_rps"], label="served", color="tab:blue")
    if s["failed_rps"].any():
        load.plot(t, s["failed_rps"], label="failed", color="tab:red")
    load.set_ylabel("requests/s")
    load.set_title(result.name)
    _marks(load, result)
    load.legend(loc="upper left", fontsize=8)
    latency.plot(t, s["p95_ms"], color="tab:purple", label="general API p95 (per tick)")
    if p95_objective_ms:
        latency.axhline(
            p95_objective_ms,
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"objective {p95_objective_ms:g} ms",
        )
    latency.set_yscale("log")
    latency.set_ylabel("ms")
    latency.set_xlabel("minutes (shaded: judged window)")
    _marks(latency, result)
    latency.legend(loc="upper left", fontsize=8)
    return _png(figure)


def capacity(result: SimulationResult) -> bytes:
    """Replicas per service (dashed: HPA maximum) and nodes per zone over time."""
    figure, (replicas, nodes) = _figure(2)
    t = _minutes(result)
    s = result.series
    for index, (service, maximum) in enumerate(sorted(result.hpa_max.items())):
        colour = f"C{index}"
        replicas.step(t, s[f"serving:{service}"], where="post", color=colour, label=service)
        replicas.axhline(maximum, color=colour, linestyle=":", linewidth=1)
    replicas.set_ylabel("serving pods")
    replicas.set_title("replicas (dotted: HPA maximum)")
    _marks(replicas, result)
    replicas.legend(loc="upper left", fontsize=8, ncols=4)
    zones = sorted(k for k in s if k.startswith("nodes:"))
    nodes.stackplot(
        t, *[s[z] for z in zones], labels=[z.split(":", 1)[1] for z in zones], alpha=0.7
    )
    nodes.plot(t, s["nodes_provisioning"], color="black", linewidth=1, label="provisioning")
    nodes.set_ylabel("ready nodes")
    nodes.set_xlabel("minutes")
    _marks(nodes, result)
    nodes.legend(loc="upper left", fontsize=8, ncols=4)
    return _png(figure)

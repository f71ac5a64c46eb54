"""Report plots as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

`Figure` + `FigureCanvasAgg` instead of pyplot: no global figure state and no GUI backend, so
plots can be drawn from a background thread or a headless CI runner. Every time plot shades the
run's chaos windows (injection → recovery) so a latency spike can be read against its cause.
Each function returns None when the results hold nothing to draw.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from runs.results import LoadResults

_CHAOS_COLOUR = "tab:red"


def _t(moments: Sequence[datetime]) -> list[float]:
    """Datetimes as matplotlib date numbers (what its typed API takes)."""
    return [float(date2num(m)) for m in moments]


def _v(values: Sequence[float | None]) -> list[float]:
    """Missing values as NaN, which matplotlib draws as a gap."""
    return [math.nan if v is None else v for v in values]


def _target_line(
    axes: Axes, value: float, label: str, data_max: float, *, vertical: bool = False
) -> None:
    """Draw the target, unless it is so far above the data that it would flatten the plot;
    then say where it is instead."""
    if data_max > 0 and value > 1.5 * data_max:
        axes.annotate(
            f"{label} (above this scale)",
            xy=(0.99, 0.97),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize=8,
        )
        return
    draw = axes.axvline if vertical else axes.axhline
    draw(value, color="black", linestyle="--", linewidth=1, label=label)


def _max(values: Sequence[float | None]) -> float:
    return max((v for v in values if v is not None and not math.isinf(v)), default=0.0)


def _figure(rows: int = 1, height: float = 3.2) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(10, height * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(rows, 1, i + 1) for i in range(rows)]
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _time_axis(axes: Axes) -> None:
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3)


def _shade_chaos(axes: Axes, results: LoadResults) -> None:
    for index, event in enumerate(results.chaos_events):
        start, end = _t(event.window(results.ended_at))
        axes.axvspan(
            start, end, color=_CHAOS_COLOUR, alpha=0.12, label="chaos" if index == 0 else None
        )
        axes.annotate(
            event.name,
            xy=(start, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=7,
            color=_CHAOS_COLOUR,
        )


def latency(results: LoadResults, target_ms: float | None = None) -> bytes | None:
    """p50 and p95 of all requests over time (locust's rolling 10 s or cumulative window)."""
    points = [p for p in results.timeseries if p.p50_ms is not None or p.p95_ms is not None]
    if not points:
        return None
    figure, (axes,) = _figure()
    times = _t([p.timestamp for p in points])
    axes.plot(times, _v([p.p50_ms for p in points]), label="p50")
    axes.plot(times, _v([p.p95_ms for p in points]), label="p95")
    if target_ms is not None:
        _target_line(
            axes, target_ms, f"p95 target {target_ms:g} ms", _max([p.p95_ms for p in points])
        )
    _shade_chaos(axes, results)
    window = "rolling 10 s" if results.timeseries_percentiles == "rolling_10s" else "cumulative"
    axes.set_title(f"Response time percentiles, all requests ({window})")
    axes.set_ylabel("ms")
    _time_axis(axes)
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)


def throughput(results: LoadResults, target_rps: float | None = None) -> bytes | None:
    """Requests/s per interval with the user count on a second axis."""
    if not results.timeseries:
        return None
    figure, (axes,) = _figure()
    times = _t([p.timestamp for p in results.timeseries])
    axes.plot(times, [p.rps for p in results.timeseries], label="requests/s", color="tab:blue")
    if target_rps is not None:
        _target_line(
            axes,
            target_rps,
            f"target {target_rps:,.0f} rps",
            _max([p.rps for p in results.timeseries]),
        )
    _shade_chaos(axes, results)
    users = axes.twinx()
    users.plot(
        times, [p.users for p in results.timeseries], color="tab:gray", linewidth=1, label="users"
    )
    users.set_ylabel("users")
    axes.set_title("Throughput")
    axes.set_ylabel("requests/s")
    _time_axis(axes)
    axes.legend(loc="upper left", fontsize=8)
    users.legend(loc="upper right", fontsize=8)
    return _png(figure)


def errors(results: LoadResults) -> bytes | None:
    """Failed requests/s (locust) and the steady prober's failed probes."""
    if not results.timeseries and not results.probes:
        return None
    figure, (axes,) = _figure()
    if results.timeseries:
        axes.plot(
            _t([p.timestamp for p in results.timeseries]),
            [p.failures_per_s for p in results.timeseries],
            color="tab:red",
            label="failed requests/s (load)",
        )
    failed = [p for p in results.probes if not p.ok]
    if failed:
        axes.scatter(
            _t([p.timestamp for p in failed]),
            [0.0] * len(failed),
            marker="x",
            color="black",
            label=f"failed probes ({len(failed)}/{len(results.probes)})",
            zorder=3,
        )
    _shade_chaos(axes, results)
    axes.set_title("Errors")
    axes.set_ylabel("failures/s")
    _time_axis(axes)
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)


def probes(results: LoadResults) -> bytes | None:
    """Steady-prober latency per target; failed probes marked."""
    if not results.probes:
        return None
    figure, (axes,) = _figure()
    for target in sorted({p.target for p in results.probes}):
        rows = [p for p in results.probes if p.target == target]
        axes.plot(
            _t([p.timestamp for p in rows]),
            [p.latency_ms for p in rows],
            marker=".",
            linewidth=0.8,
            label=target,
        )
    failed = [p for p in results.probes if not p.ok]
    if failed:
        axes.scatter(
            _t([p.timestamp for p in failed]),
            [p.latency_ms for p in failed],
            marker="x",
            color="tab:red",
            label="failed",
            zorder=3,
        )
    _shade_chaos(axes, results)
    axes.set_title("Steady prober (availability)")
    axes.set_ylabel("latency ms")
    _time_axis(axes)
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)


def ai_generation(
    results: LoadResults, metric: str = "ai_generation", target_ms: float | None = None
) -> bytes | None:
    """Histogram and timeline of end-to-end AI generation times."""
    custom = results.custom_metrics.get(metric)
    if custom is None or not custom.samples:
        return None
    figure, (histogram, timeline) = _figure(rows=2)
    ok = [s for s in custom.samples if s.ok]
    failed = [s for s in custom.samples if not s.ok]
    top = _max([s.value for s in custom.samples])
    histogram.hist(
        [[s.value for s in ok], [s.value for s in failed]],
        bins=min(40, max(5, len(custom.samples) // 3)),
        stacked=True,
        color=["tab:blue", "tab:red"],
        label=["completed", "failed"],
    )
    if target_ms is not None:
        _target_line(histogram, target_ms, f"target {target_ms:g} ms", top, vertical=True)
    histogram.set_title(f"AI generation end to end ({len(custom.samples)} generations)")
    histogram.set_xlabel(custom.unit)
    histogram.legend(fontsize=8)
    timeline.scatter(_t([s.timestamp for s in ok]), [s.value for s in ok], s=10, label="completed")
    if failed:
        timeline.scatter(
            _t([s.timestamp for s in failed]),
            [s.value for s in failed],
            s=14,
            marker="x",
            color="tab:red",
            label="failed",
        )
    if target_ms is not None:
        _target_line(timeline, target_ms, f"target {target_ms:g} ms", top)
    _shade_chaos(timeline, results)
    timeline.set_ylabel(custom.unit)
    _time_axis(timeline)
    timeline.legend(loc="upper left", fontsize=8)
    return _png(figure)


def all_plots(results: LoadResults, targets: Mapping[str, float]) -> dict[str, tuple[str, bytes]]:
    """{file stem: (title, png)} for every plot that has data; `targets` by metric name."""
    drawn = {
        "latency": ("Latency percentiles over time", latency(results, targets.get("p95_ms"))),
        "throughput": ("Throughput", throughput(results, targets.get("throughput_rps"))),
        "errors": ("Errors", errors(results)),
        "probes": ("Steady prober", probes(results)),
        "ai_generation": (
            "AI generation times",
            ai_generation(results, target_ms=targets.get("ai_generation_p95_ms")),
        ),
    }
    return {stem: (title, png) for stem, (title, png) in drawn.items() if png is not None}

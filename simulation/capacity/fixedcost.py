"""The CPU a replica burns under load whatever its request rate, from two load steps.

One step cannot tell a replica's fixed cost from its cost per request: its CPU is
U = R·u₀ + X·D (R replicas, X requests/s) with two unknowns. Two steps with the same replicas
at different throughput solve it for every process (service replicas, nginx, PostgreSQL, Redis).
The idle CPU measured with no load at all is the floor, and the fit is used only when the steps'
throughputs differ enough to carry it. In one run on this machine a loaded replica's fixed cost
was 1.5–2.5× its idle CPU, and charging that difference to the requests overstated both the CPU
per request on the request path and how it grows with load (in other runs it stayed near idle).
"""

from __future__ import annotations

from runs.results import LoadResults
from simulation.capacity.calibration import SERVICES, modelled_service_of

# Below this ratio of the two steps' throughputs the difference is mostly noise.
MIN_THROUGHPUT_RATIO = 1.3
# The fixed cost may explain at most this much of a process's CPU at the lower step: the
# requests always cost something.
MAX_FIXED_SHARE = 0.9


def api_throughput(results: LoadResults) -> float:
    """API requests per second of a step (the routes of the four services)."""
    requests = sum(e.requests for e in results.endpoints if modelled_service_of(e.name) is not None)
    return requests / max(results.actual_duration_s, 1e-9)


def _copies(results: LoadResults, name: str) -> int:
    return max(results.resource_usage[name].replicas, 1) if name in SERVICES else 1


def loaded_fixed_cores(
    low: LoadResults, high: LoadResults, idle: dict[str, float]
) -> dict[str, float] | None:
    """Per replica for a service, else per process: the cores burned under load that do not
    grow with requests (never below `idle`). None when the steps cannot carry the fit (too
    close in throughput)."""
    x_low, x_high = api_throughput(low), api_throughput(high)
    if x_low <= 0 or x_high < MIN_THROUGHPUT_RATIO * x_low:
        return None
    fixed = dict(idle)
    for name, used in low.resource_usage.items():
        other = high.resource_usage.get(name)
        if other is None or _copies(low, name) != _copies(high, name):
            continue  # a process that did not run in both, or ran with other replicas
        copies = _copies(low, name)
        u_low = used.cpu_seconds / max(low.actual_duration_s, 1e-9)
        u_high = other.cpu_seconds / max(high.actual_duration_s, 1e-9)
        per_request = (u_high - u_low) / (x_high - x_low)
        per_copy = (u_low - x_low * per_request) / copies
        ceiling = MAX_FIXED_SHARE * u_low / copies
        fixed[name] = min(max(per_copy, idle.get(name, 0.0)), max(ceiling, idle.get(name, 0.0)))
    return fixed

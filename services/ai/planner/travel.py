"""Travel time and distance between two points, by mode.

No routing engine: straight-line (haversine) distance × a detour factor for the street network,
divided by a city speed, plus a fixed overhead (waiting for a train, parking). Transit and car fall
back to walking whenever walking is quicker — nobody takes the subway for 300 m — so a leg's
mode can differ from the trip's mode. Minutes are rounded up so a plan never under-estimates.

The checker recomputes every leg with `travel`, so the solver's matrix must come from the same
function (no vectorised twin that could round differently).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.ai.planner.models import LegMode, Mode

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class ModeProfile:
    speed_kmh: float
    detour: float  # street distance / straight-line distance
    overhead_min: float  # per leg: walking to the station and waiting, or parking


PROFILES: dict[Mode, ModeProfile] = {
    "walk": ModeProfile(speed_kmh=4.5, detour=1.25, overhead_min=0.0),
    "transit": ModeProfile(speed_kmh=20.0, detour=1.3, overhead_min=10.0),
    "car": ModeProfile(speed_kmh=25.0, detour=1.35, overhead_min=5.0),
}


@dataclass(frozen=True, slots=True)
class Hop:
    minutes: int
    km: float  # street distance, rounded to 10 m
    mode: LegMode


_SAME_SPOT = Hop(0, 0.0, "walk")


_Point = tuple[float, float, float]  # (latitude rad, cos latitude, longitude rad)


def _point(lat: float, lng: float) -> _Point:
    phi = math.radians(lat)
    return phi, math.cos(phi), math.radians(lng)


def _km(a: _Point, b: _Point) -> float:
    # Haversine; the one formula behind both `travel` and `travel_matrix`, so the checker's
    # leg-by-leg recomputation always matches the solver's matrix to the minute.
    h = math.sin((b[0] - a[0]) / 2) ** 2 + a[1] * b[1] * math.sin((b[2] - a[2]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return _km(_point(lat1, lng1), _point(lat2, lng2))


def _minutes(km: float, profile: ModeProfile) -> int:
    # round() first so float noise (x.0000000001) never adds a whole minute
    return math.ceil(round(km * profile.detour / profile.speed_kmh * 60 + profile.overhead_min, 6))


def _hop(km: float, mode: Mode) -> Hop:
    if km < 0.005:  # same spot (two places in one building)
        return _SAME_SPOT
    walk = PROFILES["walk"]
    walk_min = _minutes(km, walk)
    if mode != "walk":
        profile = PROFILES[mode]
        ride_min = _minutes(km, profile)
        if ride_min < walk_min:
            return Hop(ride_min, round(km * profile.detour, 2), mode)
    return Hop(walk_min, round(km * walk.detour, 2), "walk")


def travel(lat1: float, lng1: float, lat2: float, lng2: float, mode: Mode) -> Hop:
    """The leg from (lat1, lng1) to (lat2, lng2) when the traveller's mode is `mode`."""
    return _hop(_km(_point(lat1, lng1), _point(lat2, lng2)), mode)


# Hops between two coordinates by mode, kept across requests: a city's places are the same
# from one request to the next (only the lodging and the pre-filtered subset change), so a
# planner process computes each place-to-place hop once. Keyed by value, as each request's places
# arrive as new objects (pickled into the planner process). Bounded: cleared when full.
_HOP_CACHE: dict[tuple[float, float, float, float, str], Hop] = {}
HOP_CACHE_MAX = 400_000  # ~150 places² × 3 modes × several cities; ~100 MB at most


def travel_matrix(
    points: list[tuple[float, float]], mode: Mode, *, cached_from: int = 0
) -> list[list[Hop]]:
    """Hops between every pair of points (symmetric: computed once per pair). Pairs of points
    at index ≥ `cached_from` (places, not the request's lodging) are remembered across calls."""
    prepared = [_point(lat, lng) for lat, lng in points]
    n = len(points)
    matrix = [[_SAME_SPOT] * n for _ in range(n)]
    if len(_HOP_CACHE) > HOP_CACHE_MAX:
        _HOP_CACHE.clear()
    for i in range(n):
        a = prepared[i]
        row = matrix[i]
        lat_a, lng_a = points[i]
        for j in range(i + 1, n):
            if i < cached_from:
                hop = _hop(_km(a, prepared[j]), mode)
            else:
                key = (lat_a, lng_a, *points[j], mode)
                found = _HOP_CACHE.get(key)
                if found is None:
                    found = _HOP_CACHE[key] = _hop(_km(a, prepared[j]), mode)
                hop = found
            row[j] = hop
            matrix[j][i] = hop
    return matrix

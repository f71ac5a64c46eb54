"""What simulated travellers look at: real places in the sample data's cities.

Nearby searches start from a small, fixed set of real points (city centres and landmarks) with a
few radii, the way map screens start from well-known spots: the location-service caches a nearby
list per (point, radius) — `location:{lat}:{lng}:{radius}` — and filters categories from the
cached list, so a realistic, repetitive set of queries is what lets the cache work. Text searches
use words that appear in the sample places' names and tags.

Traffic shares follow where the sample data is (SPEC.md › Dev data initialisation: Seoul 150
places, Jeju 100, Busan 80, ten overseas cities 20 each): most users browse Korean cities.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.vocabulary import Category


@dataclass(frozen=True)
class Spot:
    label: str
    lat: float
    lng: float


@dataclass(frozen=True)
class City:
    name: str  # as location-service files its places (`GET /api/locations/cities`)
    weight: float  # share of browsing traffic
    spots: tuple[Spot, ...]
    radii_m: tuple[int, ...]
    search_terms: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City(
        "Seoul",
        30,
        (
            Spot("City Hall", 37.56654, 126.97797),
            Spot("Gyeongbokgung", 37.57962, 126.97704),
            Spot("Myeongdong", 37.56368, 126.98267),
            Spot("Gangnam Station", 37.49794, 127.02762),
        ),
        (1_000, 3_000, 5_000),
        ("palace", "market", "시장", "museum", "tower", "hanok", "night-view"),
    ),
    City(
        "Busan",
        15,
        (
            Spot("Haeundae Beach", 35.15869, 129.16037),
            Spot("Seomyeon", 35.15776, 129.05913),
            Spot("Jagalchi Market", 35.09666, 129.03058),
        ),
        (1_000, 3_000, 10_000),
        ("beach", "temple", "market", "seafood", "sunset"),
    ),
    City(
        "Jeju",
        20,
        (
            Spot("Jeju City", 33.49962, 126.53119),
            Spot("Seogwipo", 33.25411, 126.56009),
            Spot("Seongsan", 33.45810, 126.94250),
        ),
        (5_000, 10_000, 30_000),
        ("oreum", "waterfall", "beach", "forest", "museum"),
    ),
    *(
        City(name, weight, (Spot(label, lat, lng),), (3_000, 10_000), terms)
        for name, weight, label, lat, lng, terms in (
            ("Tokyo", 5, "Tokyo Station", 35.68123, 139.76712, ("temple", "shrine", "market")),
            ("Osaka", 3, "Namba", 34.66664, 135.50073, ("castle", "street-food")),
            ("Kyoto", 3, "Gion", 35.00366, 135.77855, ("temple", "shrine", "garden")),
            ("Bangkok", 3, "Grand Palace", 13.75000, 100.49128, ("temple", "market")),
            ("Singapore", 3, "Marina Bay", 1.28281, 103.85856, ("garden", "food")),
            ("Taipei", 3, "Taipei 101", 25.03364, 121.56472, ("night market", "temple")),
            ("Hong Kong", 3, "Central", 22.28196, 114.15812, ("view", "market")),
            ("Paris", 4, "Louvre", 48.86061, 2.33764, ("museum", "cathedral")),
            ("London", 4, "Trafalgar Square", 51.50809, -0.12799, ("museum", "market")),
            ("New York", 4, "Times Square", 40.75800, -73.98553, ("park", "museum")),
        )
    ),
)

CITY_BY_NAME = {city.name: city for city in CITIES}

# Most map screens show every category; some filter to one.
CATEGORY_FILTER_SHARE = 0.3
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
NEARBY_LIMIT = 20
SEARCH_LIMIT = 20

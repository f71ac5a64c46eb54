"""Generate the AI test data in ``ai/`` from ``places.json``, deterministically.

Run from anywhere::

    python services/datainit/data/generate_ai_data.py

It rewrites ``ai/preference_profiles.json``, ``ai/itinerary_templates.json``,
``ai/reviews.json`` and ``ai/seasonal_patterns.json``. The output depends only on
``places.json`` and the constants below (fixed seed), so running it twice gives
byte-identical files. Standard library only; no network.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent
AI_DIR = DATA_DIR / "ai"
SEED = 20240531

CATEGORIES = ("culture", "shopping", "food", "ocean", "nature", "leisure")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_NAMES = {day: f"{name}s" for day, name in zip(DAYS, WEEKDAYS, strict=True)}
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# Countries with four distinct seasons, where month-based weather remarks make sense.
TEMPERATE = {"KR", "JP", "FR", "GB", "US"}

Place = dict[str, Any]

# --------------------------------------------------------------------------- seasons
# Seoul climate normals (KMA 1991-2020, rounded) and category multipliers.
# (month, season, avg_temp_c_seoul, rain_days, weights, notes); weights follow CATEGORIES order.
SEASONAL: tuple[tuple[int, str, float, int, tuple[float, ...], str], ...] = (
    (1, "winter", -1.9, 7, (1.2, 1.3, 1.3, 0.6, 0.7, 1.0),
     "Coldest month: indoor museums, malls and hot soups are favoured; New Year sunrise "
     "events on the east coast; Hallasan snow hikes need crampons."),
    (2, "winter", 0.7, 6, (1.2, 1.2, 1.2, 0.6, 0.8, 1.0),
     "Still cold and dry; Seollal (Lunar New Year) can close palaces and shops for a day; "
     "camellias bloom in Jeju."),
    (3, "spring", 6.1, 8, (1.1, 1.0, 1.0, 0.8, 1.2, 1.0),
     "Mild but windy with fine-dust days; canola flowers in Jeju and the first cherry "
     "blossoms in Busan late in the month."),
    (4, "spring", 12.6, 8, (1.3, 0.9, 1.0, 0.9, 1.4, 1.2),
     "Cherry blossom peak in Seoul in early April (Yeouido, Seokchon Lake); palaces and "
     "parks are busiest; good month for walking."),
    (5, "spring", 18.2, 9, (1.3, 1.0, 1.1, 1.0, 1.4, 1.3),
     "Sunny and comfortable; Buddha's Birthday lantern festival; roses in late May; "
     "one of the best months for outdoor sightseeing."),
    (6, "summer", 22.4, 10, (1.0, 1.0, 1.0, 1.2, 1.1, 1.2),
     "Warm; the jangma monsoon usually arrives in late June (Jeju first); hydrangeas in "
     "Jeju; Busan beaches open."),
    (7, "summer", 25.3, 16, (0.9, 1.3, 1.0, 1.5, 0.7, 1.2),
     "Monsoon rain and humid heat: indoor malls, museums and aquariums are favoured; "
     "beaches are busy between showers."),
    (8, "summer", 26.1, 15, (0.8, 1.3, 1.0, 1.5, 0.7, 1.3),
     "Hottest month with typhoon risk; peak beach season in Busan and Jeju; avoid long "
     "midday walks."),
    (9, "autumn", 21.6, 9, (1.2, 1.0, 1.2, 1.1, 1.2, 1.1),
     "Early typhoons possible; Chuseok holiday brings closures and heavy traffic; "
     "comfortable weather returns late in the month."),
    (10, "autumn", 15.0, 6, (1.4, 1.0, 1.2, 0.8, 1.5, 1.2),
     "Clear and dry: silver grass on Jeju oreum, autumn leaves in the mountains, Busan "
     "International Film Festival; the best month for nature."),
    (11, "autumn", 7.5, 9, (1.2, 1.1, 1.2, 0.6, 1.2, 0.9),
     "Foliage peaks in Seoul palaces and Namsan early in the month, then it turns cold "
     "quickly; kimjang (kimchi-making) season."),
    (12, "winter", 0.2, 8, (1.1, 1.5, 1.3, 0.5, 0.7, 1.0),
     "Cold; Christmas lights in Myeongdong and department stores, year-end sales favour "
     "shopping and warm food."),
)  # fmt: skip

# --------------------------------------------------------------------------- profiles
# Two profiles per archetype: (name, preferred categories, interests, (group, travellers, pace)
# for each of the two variants). Every interest is a tag used in places.json.
Variant = tuple[str, int, str]
ARCHETYPES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], Variant, Variant], ...] = (
    ("History buff", ("culture",), ("history", "palace", "museum", "unesco"),
     ("solo", 1, "normal"), ("couple", 2, "relaxed")),
    ("Street-food hunter", ("food",), ("street-food", "market", "local", "night-market"),
     ("friends", 3, "packed"), ("solo", 1, "normal")),
    ("Fashion shopper", ("shopping",), ("fashion", "department-store", "mall", "boutiques"),
     ("friends", 2, "packed"), ("solo", 1, "normal")),
    ("Beach lover", ("ocean", "nature"), ("beach", "swimming", "sunset", "sea-view"),
     ("couple", 2, "relaxed"), ("friends", 4, "normal")),
    ("Mountain hiker", ("nature",), ("hiking", "forest", "oreum", "view"),
     ("solo", 1, "packed"), ("friends", 3, "normal")),
    ("Art and design fan", ("culture", "shopping"), ("art", "museum", "architecture", "design"),
     ("solo", 1, "normal"), ("couple", 2, "relaxed")),
    ("Night owl", ("food", "shopping"), ("night-view", "nightlife", "bars", "night-market"),
     ("friends", 4, "normal"), ("couple", 2, "packed")),
    ("Family with young kids", ("leisure", "nature"), ("family", "aquarium", "zoo", "park"),
     ("family", 4, "relaxed"), ("family", 3, "normal")),
    ("Cafe hopper", ("food",), ("cafe", "bakery", "dessert", "photo"),
     ("couple", 2, "relaxed"), ("friends", 3, "normal")),
    ("Photographer", ("culture", "nature"), ("photo", "sunset", "night-view", "village"),
     ("solo", 1, "packed"), ("couple", 2, "normal")),
    ("Wellness seeker", ("nature", "leisure"), ("hot-spring", "healing", "walking", "quiet"),
     ("couple", 2, "relaxed"), ("solo", 1, "relaxed")),
    ("Thrill seeker", ("leisure",), ("theme-park", "rides", "activity", "observatory"),
     ("friends", 4, "packed"), ("family", 4, "normal")),
    ("Temple and shrine pilgrim", ("culture",), ("temple", "shrine", "buddhism", "quiet"),
     ("solo", 1, "relaxed"), ("couple", 2, "normal")),
    ("Market wanderer", ("food", "shopping"), ("market", "bargain", "street-food", "local"),
     ("couple", 2, "normal"), ("friends", 3, "packed")),
    ("Luxury traveller", ("shopping", "food"), ("luxury", "fine-dining", "michelin-star"),
     ("couple", 2, "relaxed"), ("solo", 1, "normal")),
    ("Budget backpacker", ("food", "culture"), ("free", "cheap", "street-food", "walking"),
     ("solo", 1, "packed"), ("friends", 2, "normal")),
    ("Seafood fan", ("food", "ocean"), ("seafood", "raw-fish", "market", "port"),
     ("couple", 2, "normal"), ("group", 6, "relaxed")),
    ("Island hopper", ("nature", "ocean"), ("island", "ferry", "beach", "coastal-walk"),
     ("couple", 2, "normal"), ("friends", 3, "packed")),
    ("K-culture fan", ("shopping", "culture"), ("k-pop", "k-beauty", "fashion", "hanok"),
     ("friends", 3, "packed"), ("solo", 1, "normal")),
    ("Slow traveller", ("culture", "nature"), ("quiet", "garden", "walking", "tea"),
     ("couple", 2, "relaxed"), ("solo", 1, "relaxed")),
    ("Skyline chaser", ("culture", "leisure"), ("observatory", "skyline", "night-view"),
     ("couple", 2, "normal"), ("friends", 4, "packed")),
    ("Coastal walker", ("ocean", "nature"), ("coastal-walk", "cliffs", "lighthouse", "sunset"),
     ("solo", 1, "normal"), ("couple", 2, "relaxed")),
    ("Hanok and heritage fan", ("culture",), ("hanok", "joseon", "village", "traditional"),
     ("couple", 2, "relaxed"), ("family", 5, "normal")),
    ("Garden lover", ("nature", "culture"), ("garden", "cherry-blossom", "camellia", "park"),
     ("couple", 2, "relaxed"), ("group", 6, "normal")),
    ("Foodie couple", ("food", "culture"), ("restaurant", "michelin-bib", "market", "cafe"),
     ("couple", 2, "normal"), ("couple", 2, "packed")),
)  # fmt: skip
BUDGETS = ("low", "medium", "high")
MOBILITIES = ("walk", "transit", "car")

# --------------------------------------------------------------------------- templates
# (city, days, pace, title, preferred categories, day anchors). Each day starts at its anchor
# (a place id) and continues with nearby places; 30 templates, every length 1..7 >= 4 times.
TEMPLATES: tuple[tuple[str, int, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Seoul", 1, "packed", "Seoul in a day: palaces, museums and Bukchon", ("culture", "food"),
     ("gyeongbokgung",)),
    ("Busan", 1, "normal", "Haeundae in a day", ("ocean", "food"), ("dongbaekseom-nurimaru",)),
    ("Kyoto", 1, "normal", "Eastern Kyoto temples in a day", ("culture",), ("kiyomizu-dera",)),
    ("Singapore", 1, "relaxed", "An easy day around Marina Bay", ("leisure", "nature", "culture"),
     ("gardens-by-the-bay",)),
    ("Seoul", 2, "normal", "Seoul weekend: shopping and street food", ("shopping", "food"),
     ("myeongdong", "hongdae")),
    ("Jeju", 2, "relaxed", "Jeju east coast weekend", ("nature",),
     ("seongsan-ilchulbong", "bijarim")),
    ("Osaka", 2, "packed", "Osaka eats and neon lights", ("food", "shopping", "leisure"),
     ("dotonbori", "osaka-castle")),
    ("Taipei", 2, "normal", "Taipei night markets and temples", ("food", "culture"),
     ("longshan-temple", "national-palace-museum")),
    ("Hong Kong", 2, "normal", "Hong Kong harbour and peaks", ("culture", "nature", "leisure"),
     ("victoria-peak", "tian-tan-buddha")),
    ("Seoul", 3, "relaxed", "Seoul culture at a slow pace", ("culture",),
     ("gyeongbokgung", "changdeokgung", "national-museum-of-korea")),
    ("Busan", 3, "normal", "Busan beaches and hillside villages", ("ocean", "culture"),
     ("gamcheon-culture-village", "haeundae-beach", "gwangalli-beach")),
    ("Jeju", 3, "normal", "Jeju volcanic landscapes", ("nature",),
     ("seongsan-ilchulbong", "manjanggul", "sanbangsan")),
    ("Tokyo", 3, "normal", "Classic Tokyo in three days", ("culture", "shopping", "food"),
     ("sensoji", "meiji-jingu", "tsukiji-outer-market")),
    ("Bangkok", 3, "packed", "Bangkok temples, markets and rooftops", ("culture", "food"),
     ("grand-palace", "chatuchak-weekend-market", "jim-thompson-house")),
    ("Seoul", 4, "packed", "Seoul highlights, four busy days", ("culture", "shopping", "food"),
     ("gyeongbokgung", "myeongdong", "coex-mall", "hongdae")),
    ("Jeju", 4, "relaxed", "Jeju family holiday", ("leisure", "nature"),
     ("aqua-planet-jeju", "jeju-shinhwa-world", "teddy-bear-museum", "snoopy-garden")),
    ("Paris", 4, "normal", "Paris art, landmarks and markets", ("culture", "food"),
     ("louvre", "eiffel-tower", "sacre-coeur", "pantheon")),
    ("London", 4, "normal", "London museums and markets", ("culture", "food", "shopping"),
     ("british-museum", "tower-of-london", "natural-history-museum", "national-gallery")),
    ("Seoul", 5, "normal", "Seoul in depth", ("culture", "food", "shopping"),
     ("changdeokgung", "deoksugung", "n-seoul-tower", "seoul-sky", "the-hyundai-seoul")),
    ("Busan", 5, "relaxed", "Slow seaside days in Busan", ("ocean", "food"),
     ("haeundae-beach", "gwangalli-beach", "taejongdae", "songdo-beach", "haedong-yonggungsa")),
    ("Jeju", 5, "normal", "Jeju full circle", ("nature", "culture", "leisure"),
     ("dongmun-market", "hyeopjae-beach", "jusangjeolli", "cheonjiyeon-falls",
      "seongsan-ilchulbong")),
    ("New York", 5, "relaxed", "New York for first-timers", ("culture", "nature", "food"),
     ("statue-of-liberty", "central-park", "times-square", "high-line", "dumbo")),
    ("Seoul", 6, "relaxed", "Six unhurried days in Seoul", ("culture", "food"),
     ("bukchon-hanok-village", "jongmyo", "national-museum-of-korea", "seoul-forest",
      "olympic-park", "seodaemun-prison")),
    ("Busan", 6, "normal", "Busan district by district", ("culture", "ocean", "food"),
     ("jagalchi-market", "beomeosa", "un-memorial-cemetery", "huinnyeoul-village",
      "dongnae-eupseong", "dadaepo-beach")),
    ("Jeju", 6, "packed", "Jeju road trip", ("nature", "leisure", "culture"),
     ("seongsan-ilchulbong", "cheonjiyeon-falls", "sanbangsan", "hallim-park", "bijarim",
      "jeju-stone-park")),
    ("Seoul", 6, "packed", "Seoul foodie and shopping marathon", ("food", "shopping"),
     ("gwangjang-market", "myeongdong", "mangwon-market", "garosu-gil", "seongsu-cafe-street",
      "noryangjin-fish-market")),
    ("Seoul", 7, "normal", "A classic week in Seoul", ("culture", "shopping", "food"),
     ("gyeongbokgung", "changdeokgung", "myeongdong", "n-seoul-tower", "hongdae",
      "coex-mall", "seoul-sky")),
    ("Busan", 7, "relaxed", "A week by the sea in Busan", ("ocean", "culture", "food"),
     ("haeundae-beach", "gwangalli-beach", "taejongdae", "gamcheon-culture-village",
      "haedong-yonggungsa", "songdo-beach", "dadaepo-beach")),
    ("Jeju", 7, "relaxed", "A healing week on Jeju", ("nature", "culture"),
     ("jeolmul-forest", "bijarim", "hyeopjae-beach", "camellia-hill", "soesokkak",
      "udo-seobin-baeksa", "seongpanak-trail")),
    ("Jeju", 7, "normal", "Jeju island-wide week", ("nature", "leisure", "culture"),
     ("yongduam", "manjanggul", "seongsan-ilchulbong", "jeongbang-falls", "jusangjeolli",
      "songaksan", "hyeopjae-beach")),
)  # fmt: skip
PLACES_PER_DAY = {"relaxed": (3, 3), "normal": (4, 4), "packed": (5, 6)}
# Sum of typical visit durations allowed per day (travel time comes on top).
MINUTES_PER_DAY = {"relaxed": 330, "normal": 450, "packed": 600}
MIN_PLACES_PER_DAY = 3

# --------------------------------------------------------------------------- reviews
N_REVIEWS = 500
OPENERS: dict[int, dict[str, tuple[str, ...]]] = {
    5: {
        "culture": (
            "{name} was the highlight of our trip.",
            "An unforgettable visit to {name}; the history really comes alive.",
            "{name} is beautifully kept and well worth the time.",
        ),
        "shopping": (
            "Great shopping at {name}, with plenty of choice for every budget.",
            "{name} had everything we were looking for and more.",
            "Loved browsing at {name}; we left with far too many bags.",
        ),
        "food": (
            "Some of the best food of the whole trip was at {name}.",
            "{name} lived up to the hype; everything we ordered was delicious.",
            "We went back to {name} twice, it was that good.",
        ),
        "ocean": (
            "{name} has stunning sea views; we could have stayed all day.",
            "The water and the coastline at {name} were gorgeous.",
            "A perfect seaside stop; {name} is a must-see.",
        ),
        "nature": (
            "{name} is breathtaking, easily the most beautiful spot we visited.",
            "Fresh air and amazing scenery at {name}.",
            "{name} felt peaceful and wild at the same time; highly recommended.",
        ),
        "leisure": (
            "We had a fantastic time at {name}; fun for all ages.",
            "{name} was great fun from start to finish.",
            "Worth every penny; {name} was a blast.",
        ),
    },
    4: {
        "culture": (
            "Really enjoyed {name}, although it was busier than we expected.",
            "{name} is interesting and well presented; a good half-day stop.",
        ),
        "shopping": (
            "Good selection at {name}, though prices are on the high side.",
            "{name} is fun to walk around even if you don't buy much.",
        ),
        "food": (
            "Tasty food at {name}; expect a queue at peak times.",
            "{name} was very good, if a little pricey.",
        ),
        "ocean": (
            "Lovely views at {name}; it gets crowded on weekends.",
            "{name} is a pleasant place to spend a relaxed afternoon by the sea.",
        ),
        "nature": (
            "Beautiful scenery at {name}; wear good shoes.",
            "{name} was a lovely break from the city.",
        ),
        "leisure": (
            "{name} was a fun day out, despite some long queues.",
            "Enjoyable visit to {name}; book tickets online to save time.",
        ),
    },
    3: {
        "": (
            "{name} was fine, but not as special as we had hoped.",
            "Decent visit, though the crowds at {name} took away some of the charm.",
            "An okay stop; {name} is worth it only if you are nearby.",
            "Mixed feelings about {name}: some parts were great, others forgettable.",
        ),
    },
    2: {
        "": (
            "{name} was overcrowded and a bit disappointing.",
            "We found {name} underwhelming and left early.",
            "Too expensive for what {name} offers.",
        ),
        "food": ("The food at {name} was bland and overpriced.",),
        "leisure": ("{name} felt tired and the queues were very long.",),
    },
    1: {
        "": (
            "Not worth the trip; {name} was nothing like the photos.",
            "A waste of our time, sadly; we would not go back to {name}.",
        ),
        "food": ("We waited over an hour at {name} and the food arrived cold.",),
        "shopping": ("Pushy sellers and poor quality goods at {name}.",),
    },
}
SEASON_REMARKS = {
    "winter": ("We went in {month}, so wrap up warm.", "It was cold in {month}, but clear."),
    "spring": ("{month} brought mild weather and blossoms.", "The weather in {month} was ideal."),
    "summer": ("It was hot in {month}; go early in the day.",),
    "monsoon": ("Expect sudden showers in {month}; bring an umbrella.",),
    "autumn": ("{month} was a lovely time to go, with clear skies.",),
}
# Rainy-season countries for the July remark (jangma in Korea, tsuyu/late rains in Japan).
MONSOON_COUNTRIES = {"KR", "JP"}
# Phrases that only make sense for places with (or without) a given tag.
PHRASE_NEEDS_TAG = {"the history really comes alive": "history", "Pushy sellers": "market"}
PHRASE_EXCLUDED_BY_TAG = {"fun for all ages": "adults-only"}
# Sites of remembrance get sober wording instead of "highlight of our trip".
SOMBRE_TAGS = {"memorial", "dark-tourism", "prison", "cemetery", "korean-war", "ossuary"}
SOMBRE_OPENERS = {
    5: (
        "A moving and thoughtfully presented visit to {name}.",
        "{name} is a powerful place; everyone should see it once.",
    ),
    4: (
        "{name} is sobering but very well done.",
        "A quiet, respectful visit to {name}; allow time to reflect.",
    ),
}
POSITIVE_TIPS = (
    "Go early to beat the crowds.",
    "Easy to reach by public transport.",
    "Great for couples.",
    "Staff were friendly and helpful.",
    "Plan {duration} here.",
)
NEGATIVE_TIPS = (
    "Avoid weekends if you can.",
    "Check the opening hours before you go.",
    "Signage in English was limited.",
)
DISHES = {
    "bindaetteok": "bindaetteok",
    "yukhoe": "yukhoe",
    "kalguksu": "kalguksu",
    "naengmyeon": "naengmyeon",
    "samgyetang": "samgyetang",
    "tteokbokki": "tteokbokki",
    "jokbal": "jokbal",
    "dakhanmari": "dakhanmari",
    "gomtang": "gomtang",
    "seolleongtang": "seolleongtang",
    "kongguksu": "kongguksu",
    "galbi": "galbi",
    "sundae": "sundae",
    "milmyeon": "milmyeon",
    "pajeon": "pajeon",
    "dwaeji-gukbap": "pork gukbap",
    "blowfish-soup": "blowfish soup",
    "abalone-porridge": "abalone porridge",
    "king-crab": "king crab",
    "ssiat-hotteok": "ssiat hotteok",
    "eomuk": "fish cakes",
    "raw-fish": "raw fish",
    "jjukkumi": "jjukkumi",
    "sushi": "sushi",
    "yakitori": "yakitori",
    "takoyaki": "takoyaki",
    "crab-omelette": "crab omelette",
    "chicken-rice": "chicken rice",
    "satay": "satay",
    "chilli-crab": "chilli crab",
    "biryani": "biryani",
    "xiaolongbao": "xiaolongbao",
    "pepper-bun": "pepper buns",
    "oyster-omelette": "oyster omelette",
    "beef-noodles": "beef noodle soup",
    "dim-sum": "dim sum",
    "wonton-noodles": "wonton noodles",
    "pastrami": "pastrami",
    "porterhouse": "porterhouse steak",
    "curry": "curry",
    "dumplings": "dumplings",
}


# --------------------------------------------------------------------------- helpers
def haversine_km(a: Place, b: Place) -> float:
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat = lat2 - lat1
    dlng = math.radians(b["lng"] - a["lng"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def humanise_duration(minutes: int) -> str:
    if minutes < 60:
        return f"about {minutes} minutes"
    if minutes < 90:
        return "about an hour"
    if minutes < 120:
        return "an hour and a half"
    return f"about {round(minutes / 60)} hours"


def closed_days(place: Place) -> list[str]:
    return [day for day in DAYS if place["opening_hours"][day] is None]


def dump_lines(path: Path, items: Sequence[dict[str, Any]]) -> None:
    """JSON array with one object per line, to keep diffs readable."""
    body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    path.write_text("[\n" + body + "\n]\n", encoding="utf-8")


def season_key(month: int, country: str) -> str:
    if month == 7 and country in MONSOON_COUNTRIES:
        return "monsoon"
    return SEASONAL[month - 1][1]


# --------------------------------------------------------------------------- builders
def build_seasonal() -> list[dict[str, Any]]:
    return [
        {
            "month": month,
            "season": season,
            "avg_temp_c_seoul": temp,
            "rain_days": rain,
            "category_weights": dict(zip(CATEGORIES, weights, strict=True)),
            "notes": notes,
        }
        for month, season, temp, rain, weights, notes in SEASONAL
    ]


def build_profiles(rng: random.Random, known_tags: set[str]) -> list[dict[str, Any]]:
    profiles: list[dict[str, Any]] = []
    for variant in range(2):
        for name, categories, interests, *variants in ARCHETYPES:
            missing = set(interests) - known_tags
            if missing:
                raise ValueError(f"profile interests not used by any place: {sorted(missing)}")
            group, travellers, pace = variants[variant]
            if name == "Luxury traveller":
                budget = "high"
            elif name in ("Budget backpacker", "Street-food hunter"):
                budget = "low"
            else:
                budget = BUDGETS[rng.randrange(3)]
            if group in ("family", "group") or name in ("Mountain hiker", "Island hopper"):
                mobility = rng.choice(("car", "transit"))
            else:
                mobility = MOBILITIES[rng.randrange(3)]
            profiles.append(
                {
                    "id": f"profile-{len(profiles) + 1:03d}",
                    "name": f"{name} ({group}, {pace})",
                    "preferred_categories": list(categories),
                    "pace": pace,
                    "budget": budget,
                    "travellers": travellers,
                    "interests": list(interests),
                    "mobility": mobility,
                }
            )
    return profiles


def _plan_days(
    rng: random.Random,
    city_places: list[Place],
    anchors: Sequence[Place],
    days: int,
    pace: str,
    preferred: Sequence[str],
) -> list[list[str]]:
    """Greedy geographic clustering: each day starts at its anchor (or a random preferred
    place) and continues with the nearest unused places that fit the day's time budget,
    preferring the template's categories."""
    low, high = PLACES_PER_DAY[pace]
    unused = [p for p in city_places if p not in anchors]
    plans: list[list[str]] = []
    for day_no in range(days):
        size = rng.randint(low, high)
        if day_no < len(anchors):
            current = anchors[day_no]
        else:
            current = rng.choice([p for p in unused if p["category"] in preferred] or unused)
            unused.remove(current)
        day = [current]
        remaining = MINUTES_PER_DAY[pace] - current["visit_duration_min"]
        while len(day) < size and unused:
            short_ok = len(day) < MIN_PLACES_PER_DAY
            fitting = [
                p
                for p in unused
                if p["visit_duration_min"] <= remaining
                or (short_ok and p["visit_duration_min"] <= 60)
            ]
            if not fitting:
                if not short_ok:
                    break
                fitting = unused

            def cost(p: Place, here: Place = current) -> float:
                penalty = 1.0 if p["category"] in preferred else 2.5
                return haversine_km(here, p) * penalty

            current = min(fitting, key=cost)
            unused.remove(current)
            day.append(current)
            remaining -= current["visit_duration_min"]
        plans.append([p["id"] for p in day])
    return plans


def build_templates(rng: random.Random, places: list[Place]) -> list[dict[str, Any]]:
    by_city: dict[str, list[Place]] = {}
    by_id = {p["id"]: p for p in places}
    for place in places:
        by_city.setdefault(place["city"], []).append(place)
    templates = []
    for i, (city, days, pace, title, preferred, anchor_slugs) in enumerate(TEMPLATES, start=1):
        slug = city.lower().replace(" ", "")
        anchors = [by_id[f"{slug}-{a}"] for a in anchor_slugs]
        templates.append(
            {
                "id": f"tpl-{i:02d}-{slug}-{days}d",
                "city": city,
                "days": days,
                "title": title,
                "pace": pace,
                "day_plans": _plan_days(rng, by_city[city], anchors, days, pace, preferred),
            }
        )
    return templates


def _stars(rng: random.Random, rating: float) -> int:
    if rng.random() < 0.05:  # the occasional bad day: lost booking, rain, rude staff
        return rng.choice((1, 1, 2))
    return max(1, min(5, round(rng.gauss(rating, 0.85))))


def _voice(place: Place) -> str:
    """Which category's wording fits: an aquarium or maritime museum is not a beach."""
    tags = set(place["tags"])
    if place["category"] == "ocean" and "aquarium" in tags:
        return "leisure"
    if place["category"] in ("ocean", "leisure") and "museum" in tags:
        return "culture"
    return place["category"]


def _phrase_fits(text: str, tags: set[str]) -> bool:
    for phrase, tag in PHRASE_NEEDS_TAG.items():
        if phrase in text and tag not in tags:
            return False
    return not any(phrase in text and tag in tags for phrase, tag in PHRASE_EXCLUDED_BY_TAG.items())


def _review_text(rng: random.Random, place: Place, stars: int, month: int) -> str:
    tags = set(place["tags"])
    pools = OPENERS[stars]
    options = pools.get(_voice(place), ()) + pools.get("", ())
    if stars in SOMBRE_OPENERS and SOMBRE_TAGS & tags:
        options = SOMBRE_OPENERS[stars]
    options = tuple(o for o in options if _phrase_fits(o, tags)) or options
    sentences = [rng.choice(options).format(name=place["name_en"])]
    roll = rng.random()
    dishes = [DISHES[t] for t in place["tags"] if t in DISHES]
    if stars >= 4 and dishes and roll < 0.45:
        sentences.append(f"Don't miss the {rng.choice(dishes)}.")
    elif place["country"] in TEMPERATE and roll < 0.6:
        remarks = SEASON_REMARKS[season_key(month, place["country"])]
        sentences.append(rng.choice(remarks).format(month=MONTH_NAMES[month - 1]))
    elif stars >= 4 and roll < 0.85:
        tip = rng.choice(POSITIVE_TIPS)
        sentences.append(tip.format(duration=humanise_duration(place["visit_duration_min"])))
    elif stars <= 3 and roll < 0.85:
        closed = closed_days(place)
        if closed and rng.random() < 0.5:
            sentences.append(f"Note that it is closed on {DAY_NAMES[closed[0]]}.")
        else:
            sentences.append(rng.choice(NEGATIVE_TIPS))
    if stars >= 4 and place["price_level"] == 0 and rng.random() < 0.15:
        sentences.append("Free to visit, which was a nice bonus.")
    return " ".join(sentences)


def build_reviews(
    rng: random.Random, places: list[Place], profiles: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    weights = [p["rating"] ** 3 for p in places]
    month_weights = {cat: [row[4][CATEGORIES.index(cat)] for row in SEASONAL] for cat in CATEGORIES}
    reviews = []
    for i in range(N_REVIEWS):
        place = rng.choices(places, weights=weights)[0]
        matching = [p for p in profiles if place["category"] in p["preferred_categories"]]
        profile = rng.choice(matching if matching and rng.random() < 0.8 else profiles)
        month = rng.choices(range(1, 13), weights=month_weights[place["category"]])[0]
        stars = _stars(rng, place["rating"])
        reviews.append(
            {
                "id": f"review-{i + 1:04d}",
                "place_id": place["id"],
                "profile_id": profile["id"],
                "stars": stars,
                "text": _review_text(rng, place, stars, month),
                "visited_month": month,
            }
        )
    return reviews


def build_all(places: list[Place]) -> dict[str, list[dict[str, Any]]]:
    """Every AI file's content, keyed by file name; a pure function of ``places``."""
    known_tags = {tag for place in places for tag in place["tags"]}
    profiles = build_profiles(random.Random(SEED), known_tags)
    return {
        "preference_profiles.json": profiles,
        "itinerary_templates.json": build_templates(random.Random(SEED + 1), places),
        "reviews.json": build_reviews(random.Random(SEED + 2), places, profiles),
        "seasonal_patterns.json": build_seasonal(),
    }


def main() -> None:
    places: list[Place] = json.loads((DATA_DIR / "places.json").read_text(encoding="utf-8"))
    AI_DIR.mkdir(exist_ok=True)
    for name, items in build_all(places).items():
        dump_lines(AI_DIR / name, items)
        print(f"{len(items):4d} rows -> {AI_DIR / name}")


if __name__ == "__main__":
    main()

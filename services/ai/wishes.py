"""Free-text wishes → prize weights without an LLM: the planner-only fallback.

Words of the wishes that name a category or a tag of the city's places lift those places
(`LIKED`); a word right after "no", "not", "avoid" or "without" lowers them (`DISLIKED`). Crude
next to an LLM, but deterministic, instant, and it makes "a quiet tea house" mean something
when no LLM is configured or its circuit breaker is open.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.ai.planner import Place, WishWeights

LIKED = 1.5
DISLIKED = 0.5
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_NEGATIONS = frozenset({"no", "not", "avoid", "without", "skip", "never"})
_MIN_LENGTH = 3


def _stem(word: str) -> str:
    """Plural to singular for the common English cases ("museums" → "museum")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def keyword_wish_weights(wishes: str | None, places: Sequence[Place]) -> WishWeights:
    if not wishes:
        return WishWeights()
    words = [w.casefold() for w in _WORD.findall(wishes)]
    liked: set[str] = set()
    disliked: set[str] = set()
    for i, word in enumerate(words):
        if len(word) < _MIN_LENGTH or word in _NEGATIONS:
            continue
        negated = i > 0 and words[i - 1] in _NEGATIONS
        (disliked if negated else liked).update({word, _stem(word)})
    liked -= disliked

    def weight_of(term: str) -> float | None:
        # "street-food" and "street food" both need the two words
        parts = [_stem(p) for p in _WORD.findall(term.casefold())]
        if not parts:
            return None
        if all(p in disliked for p in parts):
            return DISLIKED
        if all(p in liked for p in parts):
            return LIKED
        return None

    categories = {p.category for p in places}
    tags = {t for p in places for t in p.tags}
    return WishWeights(
        categories={c: w for c in sorted(categories) if (w := weight_of(c)) is not None},
        tags={t: w for t in sorted(tags) if (w := weight_of(t)) is not None},
    )

"""Usernames: one normal form for storing, looking up and throttling an account name, and
look-alikes of an existing name.

`normalize_username` is the only place a name is normalised: account creation stores its
result (`validate_username` in app/auth/service.py), the login looks it up
(`user_by_name`), and the login throttle keys on it, so `" Name"`, `"name\\t"`, `"NAME"`
and `"ｎａｍｅ"` (full-width) are one account with one failure count.

A new name whose UTS #39-style skeleton matches an existing one's is a look-alike and
refused (`аdmin` with a Cyrillic а, `adm1n` beside `admin`): each character is replaced by
one representative of its class of confusable characters, taken from Unicode's confusables
data as the `confusable_homoglyphs` package ships it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

__all__ = ["look_alike", "normalize_username", "skeletons"]


def normalize_username(raw: str) -> str:
    """NFKC, case-folded (then NFKC again, as casefolding can leave a name outside NFKC),
    surrounding white space stripped. Idempotent."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    return folded.strip()


@lru_cache(maxsize=1)
def _representatives() -> dict[str, str]:
    """Character → the smallest code point of its confusable class (union of the pairs)."""
    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text())
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        parent.setdefault(c, c)
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for char, glyphs in data.items():
        for glyph in glyphs:
            if len(char) == 1 and len(glyph["c"]) == 1:  # multi-character glyphs left out
                a, b = find(char), find(glyph["c"])
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {c: find(c) for c in parent if find(c) != c}


def _map(text: str) -> str:
    reps = _representatives()
    return "".join(reps.get(c, c) for c in unicodedata.normalize("NFD", text))


def skeletons(username: str) -> frozenset[str]:
    """What a name looks like, with and without case: two names whose sets meet look alike."""
    name = normalize_username(username)
    return frozenset({_map(_map(name).casefold()), _map(_map(name.casefold()))})


def look_alike(username: str, existing: Iterable[str]) -> str | None:
    """The first of `existing` that `username` is, or looks like; None when it is distinct."""
    mine = skeletons(username)
    for other in existing:
        if mine & skeletons(other):
            return other
    return None

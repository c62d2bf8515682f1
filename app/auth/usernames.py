"""Usernames: one normal form for storing, looking up and throttling an account name.

`normalize_username` is the only place a name is normalised: account creation stores its
result (`validate_username` in app/auth/service.py), the login looks it up
(`user_by_name`), and the login throttle keys on it, so `" Name"`, `"name\\t"`, `"NAME"`
and `"ｎａｍｅ"` (full-width) are one account with one failure count.
"""

from __future__ import annotations

import unicodedata


def normalize_username(raw: str) -> str:
    """NFKC, case-folded (then NFKC again, as casefolding can leave a name outside NFKC),
    surrounding white space stripped. Idempotent."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    return folded.strip()

"""Login throttling per account and per IP, and API requests per token (the `limits` library,
moving window, in memory).

In memory is per process: with several web replicas each keeps its own window, which
multiplies the allowance by the replica count; point `limits` at Redis to share it.
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.auth.usernames import normalize_username

WINDOW_MINUTES = 15


class LoginThrottle:
    """Failures counted per account (keyed on the name's normal form, as the login looks it
    up) and per IP."""

    def __init__(self, per_account: int, per_ip: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._account = RateLimitItemPerMinute(per_account, WINDOW_MINUTES)
        self._ip = RateLimitItemPerMinute(per_ip, WINDOW_MINUTES)

    def blocked(self, username: str, ip: str) -> bool:
        return not (
            self._limiter.test(self._account, "account", normalize_username(username))
            and self._limiter.test(self._ip, "ip", ip)
        )

    def record_failure(self, username: str, ip: str) -> None:
        self._limiter.hit(self._account, "account", normalize_username(username))
        self._limiter.hit(self._ip, "ip", ip)

    def reset(self, username: str) -> None:
        self._limiter.clear(self._account, "account", normalize_username(username))


class TokenRateLimit:
    """At most `per_minute` API requests per token (0: no limit); keyed by the token's hash."""

    def __init__(self, per_minute: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(per_minute) if per_minute else None

    def allow(self, token_hash: str) -> bool:
        return self._item is None or self._limiter.hit(self._item, "token", token_hash)

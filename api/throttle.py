"""Sign-in throttling: too many failed sign-ins for one account name, or from one client, and the
next attempts are refused until the moving window lets them through again.

Only failures count, so a medic who types the password right is never slowed down, and a success
wipes the account's count. The counting is the `limits` library's moving window; the keys are
digests, so a shared store (Redis) never sees an account name or an address.
"""

from __future__ import annotations

import hashlib
import math
import time

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dispatch.config import ApiSettings


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"dripline-login:{kind}:{value}".encode()).hexdigest()[:32]


class LoginThrottle:
    """Failed sign-ins per account name and per client address, each over its own moving window."""

    def __init__(self, per_account: str, per_client: str, storage_uri: str = "memory://") -> None:
        self._per_account = limits.parse(per_account)
        self._per_client = limits.parse(per_client)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, api: ApiSettings) -> LoginThrottle:
        return cls(api.login_failures_per_account, api.login_failures_per_client, api.login_throttle_storage)

    def _windows(self, username: str, client: str) -> list[tuple[limits.RateLimitItem, str]]:
        return [
            (self._per_account, _key("account", username.strip().casefold())),
            (self._per_client, _key("client", client)),
        ]

    def retry_after(self, username: str, client: str) -> int | None:
        """Whole seconds until a sign-in for ``username`` from ``client`` is allowed again; None if it is now."""
        waits = [
            math.ceil(self._limiter.get_window_stats(item, key).reset_time - time.time())
            for item, key in self._windows(username, client)
            if not self._limiter.test(item, key)
        ]
        return max(1, *waits) if waits else None

    def failed(self, username: str, client: str) -> None:
        """Count one failed sign-in against the account name and the client."""
        for item, key in self._windows(username, client):
            self._limiter.hit(item, key)

    def succeeded(self, username: str) -> None:
        """Forget the account's failures (the client's stay: it may be trying many accounts)."""
        item, key = self._windows(username, "")[0]
        self._limiter.clear(item, key)

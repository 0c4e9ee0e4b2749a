"""Sign-in throttling: too many failed sign-ins for one account name from one client, or from one
client in all, and the next attempts from there are refused until the moving window lets them
through again.

The account limit is kept per client address, so nobody can lock a medic out from elsewhere by
typing wrong passwords for their name; the client limit stops one address trying many accounts.
An attempt takes its slot in the account's window before the password is checked (``hit`` is
atomic), so parallel requests cannot all slip under the limit; a success gives it back. Only
failures count against the client. The counting is the `limits` library's moving window; the keys
are digests, so a shared store (Redis) never sees an account name or an address.
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
    """Sign-in attempts per account name and client address, and failures per client, over moving windows."""

    def __init__(self, per_account: str, per_client: str, storage_uri: str = "memory://") -> None:
        self._per_account = limits.parse(per_account)
        self._per_client = limits.parse(per_client)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, api: ApiSettings) -> LoginThrottle:
        return cls(api.login_failures_per_account_and_client, api.login_failures_per_client, api.login_throttle_storage)

    def _account_key(self, username: str, client: str) -> str:
        return _key("account", f"{username.strip().casefold()}|{client}")

    def _retry_after(self, item: limits.RateLimitItem, key: str) -> int:
        return max(1, math.ceil(self._limiter.get_window_stats(item, key).reset_time - time.time()))

    def attempt(self, username: str, client: str) -> int | None:
        """Take a slot for a sign-in of ``username`` from ``client``: None if allowed, else whole seconds to wait."""
        client_key = _key("client", client)
        if not self._limiter.test(self._per_client, client_key):
            return self._retry_after(self._per_client, client_key)
        account_key = self._account_key(username, client)
        if not self._limiter.hit(self._per_account, account_key):
            return self._retry_after(self._per_account, account_key)
        return None

    def failed(self, client: str) -> None:
        """Count a failed sign-in against the client (the account's slot is already taken)."""
        self._limiter.hit(self._per_client, _key("client", client))

    def succeeded(self, username: str, client: str) -> None:
        """Forget the account's attempts from this client (the client's failures stay: it may try many accounts)."""
        self._limiter.clear(self._per_account, self._account_key(username, client))

"""Sign-in throttling: too many failed sign-ins for one account name from one client, or from one
client in all, and the next attempts from there are refused until the moving window lets them
through again. Too many failures at one account name from everywhere together, and that account
takes one attempt per cool-down from each address.

The account limit is kept per client address, so nobody can lock a medic out from elsewhere by
typing wrong passwords for their name; the client limit stops one address trying many accounts.
An attempt takes its slot in the account's window before the password is checked (``hit`` is
atomic), so parallel requests cannot all slip under the limit; a success gives it back. Only
failures count against the client.

The client address is the TCP peer's unless the app trusts the proxy in front of it (``[api]
trusted_proxies``), so a forged ``X-Forwarded-For`` buys no fresh window. Addresses are not
enough on their own: an office behind one NAT shares one, and a botnet has thousands. So failures
at one account name are also counted across every address; past that limit the account is not
locked (which would let anyone lock a medic out), it is slowed to one attempt per cool-down from
each address.

The counting is the `limits` library's moving window; the keys
are digests, so a shared store (Redis) never sees an account name or an address.
"""

from __future__ import annotations

import hashlib
import math
import time

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dispatch.store.config import ApiSettings


def _name(username: str) -> str:
    return username.strip().casefold()


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"dripline-login:{kind}:{value}".encode()).hexdigest()[:32]


class LoginThrottle:
    """Sign-in attempts per account name and client address, and failures per client, over moving windows."""

    def __init__(
        self,
        per_account: str,
        per_client: str,
        storage_uri: str = "memory://",
        *,
        per_account_everywhere: str = "20 per 15 minutes",
        cooldown_s: int = 30,
    ) -> None:
        self._per_account = limits.parse(per_account)
        self._per_client = limits.parse(per_client)
        self._everywhere = limits.parse(per_account_everywhere)
        self._cooldown = limits.RateLimitItemPerSecond(1, cooldown_s)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, api: ApiSettings) -> LoginThrottle:
        return cls(
            api.login_failures_per_account_and_client,
            api.login_failures_per_client,
            api.login_throttle_storage,
            per_account_everywhere=api.login_failures_per_account,
            cooldown_s=api.login_account_cooldown_s,
        )

    def _account_key(self, username: str, client: str) -> str:
        return _key("account", f"{_name(username)}|{client}")

    def _retry_after(self, item: limits.RateLimitItem, key: str) -> int:
        return max(1, math.ceil(self._limiter.get_window_stats(item, key).reset_time - time.time()))

    def attempt(self, username: str, client: str) -> int | None:
        """Take a slot for a sign-in of ``username`` from ``client``: None if allowed, else whole seconds to wait."""
        client_key = _key("client", client)
        if not self._limiter.test(self._per_client, client_key):
            return self._retry_after(self._per_client, client_key)
        account_key = self._account_key(username, client)
        if not self._limiter.test(self._everywhere, _key("everywhere", _name(username))):
            # the account is under attack from many addresses: one attempt per cool-down from each address
            # (one slot shared by all would let an attacker take it every time, locking the medic out)
            cooldown_key = _key("cooldown", f"{_name(username)}|{client}")
            if not self._limiter.hit(self._cooldown, cooldown_key):
                return self._retry_after(self._cooldown, cooldown_key)
        if not self._limiter.hit(self._per_account, account_key):
            return self._retry_after(self._per_account, account_key)
        return None

    def failed(self, username: str, client: str) -> None:
        """Count a failed sign-in against the client and against the account name everywhere (the account's
        slot at this client is already taken)."""
        self._limiter.hit(self._per_client, _key("client", client))
        self._limiter.hit(self._everywhere, _key("everywhere", _name(username)))

    def succeeded(self, username: str, client: str) -> None:
        """Forget the account's attempts from this client (the client's failures stay: it may try many accounts)."""
        self._limiter.clear(self._per_account, self._account_key(username, client))

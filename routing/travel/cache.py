"""A process-wide LRU of travel matrices, keyed by the set of locations and the provider's identity, so
re-planning the same day does not ask OSRM again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.travel.matrix import Location, TravelMatrix, TravelMatrixProvider
from routing.travel.road_tables import (
    coordinates,
)

log = logging.getLogger(__name__)


_MATRICES: OrderedDict[tuple[str, str], TravelMatrix] = OrderedDict()
_MATRICES_LOCK = threading.Lock()


def clear_matrix_cache() -> None:
    """Forget every cached matrix (tests; or after rebuilding the graph behind an HTTP server)."""
    with _MATRICES_LOCK:
        _MATRICES.clear()


def provider_key(provider: TravelMatrixProvider) -> str:
    """What a provider's answers depend on: its ``cache_key()`` if it has one, else its repr.

    A dataclass's repr lists its fields, which is right for :class:`routing.HaversineTravel`; any other object's
    repr holds its id, which only ever makes the cache miss.
    """
    key = getattr(provider, "cache_key", None)
    return f"{type(provider).__qualname__}:{key() if callable(key) else repr(provider)}"


@dataclass(frozen=True)
class CachedTravel:
    """``provider`` with a process-wide LRU of its matrices, holding at most ``max_entries``.

    The key is the provider's identity (:func:`provider_key`: its settings, and for a local graph the files'
    sizes and modification times, so a rebuilt graph misses) and the *set* of locations: the matrix is stored in
    a canonical (sorted) order and permuted on the way out, so the same places in another order still hit. A
    server's graph cannot be seen from here: after rebuilding the graph behind ``osrm-routed``, restart the
    process or call :func:`clear_matrix_cache`. The store lives in the module, not the instance, so a settings
    reload (a new but equal wrapper) keeps it.
    """

    provider: TravelMatrixProvider
    max_entries: int = 16

    def __post_init__(self) -> None:
        if not callable(getattr(self.provider, "matrix", None)):
            raise ValueError(f"CachedTravel provider must have a matrix() method, got {self.provider!r}.")
        if isinstance(self.max_entries, bool) or not isinstance(self.max_entries, int) or self.max_entries < 1:
            raise ValueError(f"CachedTravel max_entries must be a whole number >= 1, got {self.max_entries!r}.")

    def cache_key(self) -> str:
        return provider_key(self.provider)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        if not locations:
            return self.provider.matrix(locations)
        lat, lon = coordinates(locations)
        order = np.lexsort((lon, lat))
        canonical = np.stack([lat[order], lon[order]]).tobytes()
        key = (provider_key(self.provider), hashlib.sha256(canonical).hexdigest())
        with _MATRICES_LOCK:
            stored = _MATRICES.get(key)
            if stored is not None:
                _MATRICES.move_to_end(key)
        if stored is None:
            fresh = self.provider.matrix(locations)
            block = np.ix_(order, order)
            stored = TravelMatrix(fresh.durations[block], fresh.distances[block], unreachable=fresh.unreachable)
            with _MATRICES_LOCK:
                _MATRICES[key] = stored
                _MATRICES.move_to_end(key)
                while len(_MATRICES) > self.max_entries:
                    _MATRICES.popitem(last=False)
            return fresh
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        back = np.ix_(rank, rank)
        return TravelMatrix(stored.durations[back], stored.distances[back], unreachable=stored.unreachable)

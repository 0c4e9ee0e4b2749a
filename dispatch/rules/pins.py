"""What a dispatcher's pin does to a booking's visits: only the pinned medic may serve them, at the pinned
start if one is given, and they weigh as much as a visit can, so that a re-plan drops them last.

A pin the day cannot honour (the medic is not on shift, or may not give these services) does not
hold the booking back: it is planned as if unpinned, and the board says the pin was not kept, and why.
"""

from __future__ import annotations

from datetime import datetime

from routing import TimeWindow

#: the most a visit may weigh (routing.Visit.priority is 1 to 10)
PINNED_PRIORITY = 10


def pinned_visit(
    pinned_key: str | None,
    pinned_start: datetime | None,
    allowed: frozenset[str],
    windows: tuple[TimeWindow, ...],
    priority: int,
) -> tuple[frozenset[str], tuple[TimeWindow, ...], int]:
    """The allowed medics, windows and priority of a visit of a booking pinned to ``pinned_key``."""
    if pinned_key is None or pinned_key not in allowed:
        return allowed, windows, priority
    if pinned_start is not None and any(w.start <= pinned_start <= w.end for w in windows):
        windows = (TimeWindow(pinned_start, pinned_start),)
    return frozenset({pinned_key}), windows, PINNED_PRIORITY

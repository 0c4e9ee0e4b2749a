"""Colorado's meal and rest periods, as breaks on a shift."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing import Break, TimeWindow

MEAL = timedelta(minutes=30)
REST = timedelta(minutes=10)


def colorado_breaks(start: datetime, end: datetime) -> tuple[Break, ...]:
    """A 30-minute meal period for a shift over 5 hours, around its middle, and
    a 10-minute rest for every 4 hours worked, around the middle of each."""
    hours = (end - start) / timedelta(hours=1)
    breaks: list[Break] = []
    if hours > 5:
        middle = start + (end - start) / 2
        breaks.append(Break(MEAL, TimeWindow(middle - timedelta(hours=1.5), middle + timedelta(hours=1))))
    for k in range(int(hours // 4)):
        centre = start + timedelta(hours=4 * k + 2)
        breaks.append(Break(REST, TimeWindow(centre - timedelta(hours=1), centre + timedelta(hours=1))))
    return tuple(breaks)

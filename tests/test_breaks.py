"""Colorado's meal and rest periods (:mod:`dispatch.rules.breaks`), worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.rules.breaks import colorado_breaks
from tests.helpers import DENVER

MEAL = timedelta(minutes=30)
REST = timedelta(minutes=10)


def _at(hour: float) -> datetime:
    return datetime(2026, 12, 2, tzinfo=DENVER) + timedelta(hours=hour)


def _described(start: float, end: float) -> list[tuple[timedelta, float, float]]:
    """Each break as (length, window start hour, window end hour)."""
    base = _at(0)
    return [
        (b.duration, (b.window.start - base) / timedelta(hours=1), (b.window.end - base) / timedelta(hours=1))
        for b in colorado_breaks(_at(start), _at(end))
    ]


def test_colorado_breaks_gives_a_short_shift_none() -> None:
    """A 3-hour shift (08:00-11:00) earns neither a meal nor a rest."""
    assert _described(8, 11) == []


def test_colorado_breaks_gives_four_hours_one_rest_around_its_middle() -> None:
    """08:00-12:00: one 10-minute rest, taken within an hour of 10:00; no meal (not over 5 hours)."""
    assert _described(8, 12) == [(REST, 9, 11)]


def test_colorado_breaks_gives_no_meal_at_exactly_five_hours() -> None:
    """08:00-13:00 is not over 5 hours: one rest, no meal."""
    assert _described(8, 13) == [(REST, 9, 11)]


def test_colorado_breaks_gives_an_eight_hour_shift_a_meal_and_two_rests() -> None:
    """08:00-16:00: a 30-minute meal from 90 minutes before to an hour after 12:00, and rests around
    10:00 and 14:00."""
    assert _described(8, 16) == [(MEAL, 10.5, 13), (REST, 9, 11), (REST, 13, 15)]

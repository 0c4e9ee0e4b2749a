"""What the dispatch services raise when a request cannot be carried out, and the checks they share.

:class:`InvalidInput` names each offending field by its path (``("patients", 0, "service")``) with
a plain-English reason; it never quotes the value, which may be a patient's name or phone.
:class:`NotFound` is an unknown id; :class:`Conflict` a request that clashes with the current
state (a taken code, a re-plan already running). The API turns them into 422, 404 and 409.

:class:`Policy` carries what the checks depend on besides the input: today's date and the time
zone of the company, the service area, and the geocoder for addresses without coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.records.geocode import Geocoder

Loc = tuple[str | int, ...]

#: how far ahead a booking, a shift or a re-plan may be made
MAX_DAYS_AHEAD = 730
#: the oldest patient a date of birth may describe
MAX_AGE_YEARS = 130


class InvalidInput(ValueError):
    """One or more fields that break a rule; ``errors`` is ``[(loc, reason), ...]``."""

    def __init__(self, errors: Sequence[tuple[Loc, str]], *, part: str = "body") -> None:
        self.errors = [(tuple(loc), reason) for loc, reason in errors]
        #: where the fields are: "body", "path" or "query"
        self.part = part
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {reason}" for loc, reason in self.errors))

    @classmethod
    def one(cls, loc: Loc, reason: str, *, part: str = "body") -> InvalidInput:
        return cls([(loc, reason)], part=part)


class NotFound(LookupError):
    """No ``resource`` with that id."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found")
        self.resource = resource


class Conflict(Exception):
    """The request clashes with the current state; ``message`` holds no patient data."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Policy:
    """The context of a write: today in the company's zone, the zone, the service area, a geocoder
    and the credential kinds."""

    today: date
    zone: ZoneInfo
    #: (south, west, north, east) in degrees
    area: tuple[float, float, float, float]
    geocoder: Geocoder | None = None
    #: the credential kinds the company records (``[credentials]`` in config.toml)
    credential_kinds: tuple[str, ...] = ("iv_certification", "licence")
    #: the most bookings one day may hold (``[planning] max_bookings_per_day``)
    max_bookings_per_day: int = 2000

    @classmethod
    def now(
        cls,
        zone: ZoneInfo,
        area: tuple[float, float, float, float],
        geocoder: Geocoder | None = None,
        credential_kinds: tuple[str, ...] = ("iv_certification", "licence"),
        max_bookings_per_day: int = 2000,
    ) -> Policy:
        return cls(datetime.now(zone).date(), zone, area, geocoder, credential_kinds, max_bookings_per_day)


class Problems:
    """Collects every problem of a request, so one bad field does not hide the others."""

    def __init__(self, part: str = "body") -> None:
        self.errors: list[tuple[Loc, str]] = []
        self.part = part

    def add(self, loc: Loc, reason: str) -> None:
        self.errors.append((loc, reason))

    def has(self, prefix: Loc) -> bool:
        return any(loc[: len(prefix)] == prefix for loc, _ in self.errors)

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors, part=self.part)


# --------------------------------------------------------------------- shared checks


def check_service_day(problems: Problems, loc: Loc, day: date, policy: Policy) -> None:
    """Not a past day, and not more than :data:`MAX_DAYS_AHEAD` ahead."""
    if day < policy.today:
        problems.add(loc, "is a past day")
    elif day > policy.today + timedelta(days=MAX_DAYS_AHEAD):
        problems.add(loc, f"is more than {MAX_DAYS_AHEAD} days ahead")


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in ``zone``, in UTC."""
    start = datetime.combine(day, time(0), zone)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


def check_span(
    problems: Problems,
    day: date,
    zone: ZoneInfo,
    start: tuple[Loc, datetime],
    end: tuple[Loc, datetime],
) -> None:
    """``end`` after ``start``, both on ``day`` (``end`` may be the following midnight)."""
    (start_loc, start_at), (end_loc, end_at) = start, end
    try:
        first, last = day_span(day, zone)
    except OverflowError:  # a day at the edge of the calendar; the day's own check names it
        return
    if not first <= start_at < last:
        problems.add(start_loc, f"must fall on {day.isoformat()} in {zone.key}")
    if end_at <= start_at:
        problems.add(end_loc, f"must be after {start_loc[-1]}")
    elif end_at > last:
        problems.add(end_loc, f"must fall on {day.isoformat()} in {zone.key}")


def check_second_window(
    problems: Problems,
    day: date,
    zone: ZoneInfo,
    window: tuple[datetime, datetime],
    second: tuple[datetime | None, datetime | None],
) -> None:
    """A booking's second window: both ends or neither, on the day, apart from the first window."""
    start, end = second
    if start is None and end is None:
        return
    if start is None or end is None:
        missing = "alt_window_start" if start is None else "alt_window_end"
        problems.add((missing,), "is required when the other end of the second window is given (give both or neither)")
        return
    check_span(problems, day, zone, (("alt_window_start",), start), (("alt_window_end",), end))
    if start <= window[1] and window[0] <= end:
        problems.add(("alt_window_start",), "must not overlap the first window (window_start to window_end)")


def check_point(problems: Problems, loc: Loc, lat: float | None, lon: float | None, policy: Policy) -> None:
    """Both coordinates or neither, and inside the service area."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        problems.add((*loc, missing), "is required when the other coordinate is given (give both or neither)")
        return
    if lat is None or lon is None:
        return
    south, west, north, east = policy.area
    if not south <= lat <= north:
        problems.add((*loc, "lat"), f"is outside the service area (latitude {south:g} to {north:g})")
    if not west <= lon <= east:
        problems.add((*loc, "lon"), f"is outside the service area (longitude {west:g} to {east:g})")


def check_birth_date(problems: Problems, loc: Loc, born: date, policy: Policy) -> None:
    if born >= policy.today:
        problems.add(loc, "must be in the past")
    elif born.year < policy.today.year - MAX_AGE_YEARS:
        problems.add(loc, f"is more than {MAX_AGE_YEARS} years ago")

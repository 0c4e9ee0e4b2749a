"""The planning problem: immutable data, validated when it is built.

Every object here is a frozen dataclass that checks its own fields in
``__post_init__`` and raises :class:`ValueError` with a sentence naming the
object and the field. Points in time are timezone-aware datetimes; the solver
turns them into integer seconds from :attr:`Problem.origin`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from routing.travel.matrix import HaversineTravel, Location, TravelMatrix, TravelMatrixProvider

ZERO = timedelta(0)


class UnservableVisitWarning(UserWarning):
    """A visit that no shift could ever serve (it will come back unassigned)."""


class FrozenCounts(Mapping[str, int]):
    """A read-only, picklable, hashable mapping of supply kind to amount."""

    __slots__ = ("_items",)
    _items: dict[str, int]

    def __init__(self, items: Mapping[str, int]) -> None:
        object.__setattr__(self, "_items", dict(items))

    def __getitem__(self, key: str) -> int:
        return self._items[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"{self._items!r}"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FrozenCounts is read-only")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (FrozenCounts, (self._items,))


def _frozen_mapping(owner: str, name: str, values: Mapping[str, int]) -> Mapping[str, int]:
    clean: dict[str, int] = {}
    for kind, amount in values.items():
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(f"{owner} {name}[{kind!r}] must be a whole number, got {amount!r}.")
        if amount < 0:
            raise ValueError(f"{owner} {name}[{kind!r}] must not be negative, got {amount}.")
        clean[str(kind)] = amount
    return FrozenCounts(clean)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC. Python compares and subtracts two datetimes that
    share a ZoneInfo by wall clock, which is an hour off across a daylight-saving
    change; in UTC it is exact."""
    return moment.astimezone(UTC)


def _require_aware(owner: str, name: str, moment: datetime) -> None:
    if not isinstance(moment, datetime):
        raise ValueError(f"{owner} {name} must be a datetime, got {type(moment).__name__}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{owner} {name} must carry a time zone, got the naive {moment}.")


def _require_duration(owner: str, name: str, value: timedelta) -> None:
    if not isinstance(value, timedelta):
        raise ValueError(f"{owner} {name} must be a timedelta, got {type(value).__name__}.")
    if value < ZERO:
        raise ValueError(f"{owner} {name} must not be negative, got {value}.")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A closed interval [start, end] of timezone-aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("TimeWindow", "start", self.start)
        _require_aware("TimeWindow", "end", self.end)
        if utc(self.end) < utc(self.start):
            raise ValueError(f"TimeWindow end ({self.end.isoformat()}) is before its start ({self.start.isoformat()}).")

    def contains(self, moment: datetime) -> bool:
        return utc(self.start) <= utc(moment) <= utc(self.end)


@dataclass(frozen=True, slots=True)
class Break:
    """A break of ``duration`` that must start inside ``window``."""

    duration: timedelta
    window: TimeWindow

    def __post_init__(self) -> None:
        _require_duration("Break", "duration", self.duration)


@dataclass(frozen=True)
class Visit:
    """One stop a medic must make.

    ``windows`` are the intervals in which the service must *start*.
    ``setup`` is spent once on arrival at a location (parking, lobby, setting up
    the poles); consecutive visits at the same location share it, which is how a
    group booking sets up once. ``allowed_medics`` is a hard restriction (None:
    anyone with the skills); ``preferred_medics`` only costs when ignored.
    ``priority`` (1 to 10) and ``patients`` (how many people the visit serves)
    scale the penalty for leaving the visit out; ``optional`` visits yield to
    mandatory ones. Visits that share a ``group``
    (the parts of one group booking) are served all or none; parts served by
    different medics start within :attr:`Problem.group_arrival` of each other,
    so that the medics arrive together.
    """

    id: str
    location: Location
    service: timedelta
    windows: tuple[TimeWindow, ...]
    skills: frozenset[str] = frozenset()
    demand: Mapping[str, int] = field(default_factory=dict)
    priority: int = 1
    optional: bool = False
    setup: timedelta = ZERO
    allowed_medics: frozenset[str] | None = None
    preferred_medics: frozenset[str] = frozenset()
    group: str | None = None
    patients: int = 1

    def __post_init__(self) -> None:
        who = f"Visit {self.id!r}"
        if self.group is not None and (not isinstance(self.group, str) or not self.group):
            raise ValueError(f"{who} group must be a non-empty string or None, got {self.group!r}.")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Visit id must be a non-empty string, got {self.id!r}.")
        if not isinstance(self.location, Location):
            raise ValueError(f"{who} location must be a Location.")
        _require_duration(who, "service", self.service)
        _require_duration(who, "setup", self.setup)
        windows = tuple(self.windows)
        if not windows:
            raise ValueError(f"{who} windows must hold at least one time window.")
        ordered = tuple(sorted(windows, key=lambda w: utc(w.start)))
        for earlier, later in itertools.pairwise(ordered):
            if utc(later.start) <= utc(earlier.end):
                raise ValueError(f"{who} windows overlap: merge them into one window.")
        object.__setattr__(self, "windows", ordered)
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "demand", _frozen_mapping(who, "demand", self.demand))
        if not isinstance(self.priority, int) or not 1 <= self.priority <= 10:
            raise ValueError(f"{who} priority must be a whole number from 1 to 10, got {self.priority!r}.")
        if not isinstance(self.patients, int) or isinstance(self.patients, bool) or self.patients < 1:
            raise ValueError(f"{who} patients must be a whole number of at least 1, got {self.patients!r}.")
        if self.allowed_medics is not None:
            object.__setattr__(self, "allowed_medics", frozenset(self.allowed_medics))
        object.__setattr__(self, "preferred_medics", frozenset(self.preferred_medics))


@dataclass(frozen=True)
class Shift:
    """A medic's working day: leave ``start_location`` no earlier than
    ``window.start``, be back at ``end_location`` by ``window.end`` (the soft
    end), and never after ``hard_end``. Each minute past the soft end costs
    ``overtime_cost_per_minute`` minutes of driving in the objective."""

    medic_id: str
    start_location: Location
    end_location: Location
    window: TimeWindow
    skills: frozenset[str] = frozenset()
    stock: Mapping[str, int] = field(default_factory=dict)
    breaks: tuple[Break, ...] = ()
    max_visits: int | None = None
    hard_end: datetime | None = None
    overtime_cost_per_minute: int = 2

    def __post_init__(self) -> None:
        who = f"Shift of medic {self.medic_id!r}"
        if not isinstance(self.medic_id, str) or not self.medic_id:
            raise ValueError(f"Shift medic_id must be a non-empty string, got {self.medic_id!r}.")
        for name in ("start_location", "end_location"):
            if not isinstance(getattr(self, name), Location):
                raise ValueError(f"{who} {name} must be a Location.")
        hard_end = self.window.end if self.hard_end is None else self.hard_end
        _require_aware(who, "hard_end", hard_end)
        if utc(hard_end) < utc(self.window.end):
            raise ValueError(
                f"{who} hard_end ({hard_end.isoformat()}) is before its soft end ({self.window.end.isoformat()})."
            )
        object.__setattr__(self, "hard_end", hard_end)
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "stock", _frozen_mapping(who, "stock", self.stock))
        object.__setattr__(self, "breaks", tuple(self.breaks))
        for number, rest in enumerate(self.breaks, start=1):
            if utc(rest.window.start) < utc(self.window.start) or utc(rest.window.end) + rest.duration > utc(hard_end):
                raise ValueError(f"{who} break {number} does not fit inside the shift.")
        if self.max_visits is not None and (not isinstance(self.max_visits, int) or self.max_visits < 0):
            raise ValueError(f"{who} max_visits must be a whole number >= 0, got {self.max_visits!r}.")
        if not isinstance(self.overtime_cost_per_minute, int) or self.overtime_cost_per_minute < 0:
            raise ValueError(
                f"{who} overtime_cost_per_minute must be a whole number >= 0, got {self.overtime_cost_per_minute!r}."
            )

    @property
    def latest_end(self) -> datetime:
        """The hard end (``hard_end`` is always set after construction)."""
        assert self.hard_end is not None
        return self.hard_end


@dataclass(frozen=True)
class Problem:
    """Visits, shifts and the travel matrix between their locations.

    ``locations`` lists each distinct location once: shift starts and ends
    first, then visits, in order of appearance. ``matrix`` is indexed by it.
    Build one with :meth:`build` to have a provider compute the matrix.
    """

    visits: tuple[Visit, ...]
    shifts: tuple[Shift, ...]
    matrix: TravelMatrix
    #: the most the starts of one group's parts may lie apart when different medics serve them
    group_arrival: timedelta = timedelta(minutes=10)
    locations: tuple[Location, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "visits", tuple(self.visits))
        object.__setattr__(self, "shifts", tuple(self.shifts))
        _require_duration("Problem", "group_arrival", self.group_arrival)
        _require_unique("Visit", [v.id for v in self.visits])
        _require_unique("Shift medic_id", [s.medic_id for s in self.shifts])
        object.__setattr__(self, "locations", tuple(_distinct_locations(self.visits, self.shifts)))
        size = len(self.locations)
        if self.matrix.size != size:
            raise ValueError(
                f"Problem matrix covers {self.matrix.size} locations but the visits and shifts have {size}."
            )
        known_skills = frozenset().union(*(s.skills for s in self.shifts)) if self.shifts else frozenset()
        for visit in self.visits:
            missing = visit.skills - known_skills
            if missing:
                warnings.warn(
                    f"Visit {visit.id!r} needs skill(s) {sorted(missing)} that no medic has; it will be unassigned.",
                    UnservableVisitWarning,
                    stacklevel=3,
                )

    @classmethod
    def build(
        cls,
        visits: Iterable[Visit],
        shifts: Iterable[Shift],
        provider: TravelMatrixProvider | None = None,
        group_arrival: timedelta = timedelta(minutes=10),
    ) -> Problem:
        """Make a problem, computing its matrix with ``provider`` (haversine by default)."""

        visits, shifts = tuple(visits), tuple(shifts)
        provider = provider or HaversineTravel()
        locations = _distinct_locations(visits, shifts)
        return cls(visits, shifts, provider.matrix(locations), group_arrival)

    @property
    def groups(self) -> dict[str, tuple[Visit, ...]]:
        """The visits of each group, in problem order."""
        cached = self.__dict__.get("_groups")
        if cached is None:
            found: dict[str, list[Visit]] = {}
            for visit in self.visits:
                if visit.group is not None:
                    found.setdefault(visit.group, []).append(visit)
            cached = self.__dict__["_groups"] = {name: tuple(members) for name, members in found.items()}
        return cached

    @property
    def origin(self) -> datetime:
        """Second zero of the solver's clock: the earliest moment in the problem."""
        cached = self.__dict__.get("_origin")
        if cached is None:
            moments = [s.window.start for s in self.shifts]
            moments += [w.start for v in self.visits for w in v.windows]
            if not moments:
                raise ValueError("Problem has no shifts and no visits, so it has no origin.")
            # computed once: the solver asks for it for every visit-shift pair
            cached = self.__dict__["_origin"] = min(moments, key=utc)
        return cached

    def location_index(self, location: Location) -> int:
        return self._index[location]

    @property
    def _index(self) -> dict[Location, int]:
        cached = self.__dict__.get("_location_index")
        if cached is None:
            cached = {loc: i for i, loc in enumerate(self.locations)}
            self.__dict__["_location_index"] = cached
        return cached

    def visit(self, visit_id: str) -> Visit:
        return self._visits_by_id[visit_id]

    def shift(self, medic_id: str) -> Shift:
        return self._shifts_by_id[medic_id]

    @property
    def _visits_by_id(self) -> dict[str, Visit]:
        cached = self.__dict__.get("_visit_index")
        if cached is None:
            cached = {v.id: v for v in self.visits}
            self.__dict__["_visit_index"] = cached
        return cached

    @property
    def _shifts_by_id(self) -> dict[str, Shift]:
        cached = self.__dict__.get("_shift_index")
        if cached is None:
            cached = {s.medic_id: s for s in self.shifts}
            self.__dict__["_shift_index"] = cached
        return cached

    @property
    def supply_kinds(self) -> tuple[str, ...]:
        kinds: set[str] = set()
        for visit in self.visits:
            kinds.update(k for k, amount in visit.demand.items() if amount > 0)
        return tuple(sorted(kinds))


def _require_unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what} {item!r} appears twice; ids must be unique.")
        seen.add(item)


def _distinct_locations(visits: Iterable[Visit], shifts: Iterable[Shift]) -> list[Location]:
    ordered: dict[Location, None] = {}
    for shift in shifts:
        ordered.setdefault(shift.start_location)
        ordered.setdefault(shift.end_location)
    for visit in visits:
        ordered.setdefault(visit.location)
    return list(ordered)


def seconds_between(origin: datetime, moment: datetime) -> int:
    """Whole seconds from ``origin`` to ``moment``, exact across daylight saving."""
    return int((utc(moment) - utc(origin)) // timedelta(seconds=1))

"""An independent checker: does a :class:`Result` really solve its :class:`Problem`?

Everything is recomputed from the problem (``problem.matrix`` for travel) and
from the decisions in the result: the route order, ``departure``, each stop's
``start``, the placed breaks and ``arrival_home``. Every derived number the
result reports (arrivals, waits, ends, travel, KPIs) is compared with its
recomputation, never with another reported number, so one wrong field trips
one rule instead of a cascade. This module shares no code with the solver
adapter and does not import OR-Tools.

Time is compared in UTC. Arithmetic on two datetimes that share a ``ZoneInfo``
is wall-clock arithmetic in Python (it ignores offsets and ``fold``), which is
an hour off across a daylight-saving change; converting to UTC first is not.

Each rule is a function ``check_<rule>(problem, result) -> list[Violation]``;
:data:`CHECKS` maps rule names to them and :func:`check` runs them all. A route
whose medic has no shift is reported by ``medic`` and skipped by every other
per-route rule; stops naming an unknown visit are reported by ``assignment``,
and the timing rules stop walking a route at the first such stop.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from routing.model import Break, Problem, Shift, Visit
from routing.result import Result, Route, Stop

SECOND = timedelta(seconds=1)
ZERO = timedelta(0)


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``rule`` names the check, ``subject`` is the visit id or
    medic id it concerns, and ``message`` explains it, naming things by id."""

    rule: str
    subject: str
    message: str


# --------------------------------------------------------------------------- recomputation


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _secs(delta: timedelta) -> int:
    return delta // SECOND


Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class _Leg:
    """One stop as recomputed from the problem; times are UTC."""

    stop: Stop
    visit: Visit
    travel_s: int
    distance_m: int
    prev_end: datetime
    breaks_in_gap: timedelta
    arrival: datetime
    setup: timedelta
    start: datetime
    end: datetime

    @property
    def wait(self) -> timedelta:
        """Slack in the gap: what is left after driving, breaks and setup."""
        return self.start - self.setup - self.prev_end - self.travel_s * SECOND - self.breaks_in_gap


@dataclass(frozen=True)
class _Walk:
    """A route replayed against its shift; ``complete`` is False when a stop
    names an unknown visit (``legs`` then stop before it and ``home_*`` are unset)."""

    route: Route
    shift: Shift
    departure: datetime
    arrival_home: datetime
    breaks: tuple[Interval, ...]
    legs: tuple[_Leg, ...]
    complete: bool
    home_travel_s: int = 0
    home_distance_m: int = 0
    home_prev_end: datetime | None = None
    home_breaks_in_gap: timedelta = ZERO


def _breaks_between(breaks: tuple[Interval, ...], after: datetime, before: datetime) -> timedelta:
    """Total length of the placed breaks lying entirely inside [after, before]."""
    return sum(
        (end - start for start, end in breaks if start <= end and after <= start and end <= before),
        ZERO,
    )


def _routes(problem: Problem, result: Result) -> Iterator[tuple[Route, Shift]]:
    """The routes whose medic has a shift, with that shift."""
    shifts = {shift.medic_id: shift for shift in problem.shifts}
    for route in result.routes:
        shift = shifts.get(route.medic_id)
        if shift is not None:
            yield route, shift


def _known_stops(problem: Problem, route: Route) -> Iterator[tuple[Stop, Visit]]:
    """The stops of ``route`` whose visit exists, with that visit."""
    visits = {visit.id: visit for visit in problem.visits}
    for stop in route.stops:
        visit = visits.get(stop.visit_id)
        if visit is not None:
            yield stop, visit


def _walk(problem: Problem, route: Route, shift: Shift) -> _Walk:
    visits = {visit.id: visit for visit in problem.visits}
    durations, distances = problem.matrix.durations, problem.matrix.distances
    breaks = tuple((_utc(b.start), _utc(b.end)) for b in route.breaks)
    departure, arrival_home = _utc(route.departure), _utc(route.arrival_home)
    prev_loc = problem.location_index(shift.start_location)
    prev_end = departure
    legs: list[_Leg] = []
    for stop in route.stops:
        visit = visits.get(stop.visit_id)
        if visit is None:
            return _Walk(route, shift, departure, arrival_home, breaks, tuple(legs), complete=False)
        loc = problem.location_index(visit.location)
        start = _utc(stop.start)
        travel_s = int(durations[prev_loc, loc])
        in_gap = _breaks_between(breaks, prev_end, start)
        setup = visit.setup if loc != prev_loc else ZERO
        # Arrivals are just in time: slack is spent before setting off.
        arrival = start - setup
        end = start + visit.service
        legs.append(
            _Leg(stop, visit, travel_s, int(distances[prev_loc, loc]), prev_end, in_gap, arrival, setup, start, end)
        )
        prev_loc, prev_end = loc, end
    home = problem.location_index(shift.end_location)
    return _Walk(
        route,
        shift,
        departure,
        arrival_home,
        breaks,
        tuple(legs),
        complete=True,
        home_travel_s=int(durations[prev_loc, home]),
        home_distance_m=int(distances[prev_loc, home]),
        home_prev_end=prev_end,
        home_breaks_in_gap=_breaks_between(breaks, prev_end, arrival_home),
    )


def _walks(problem: Problem, result: Result) -> Iterator[_Walk]:
    for route, shift in _routes(problem, result):
        yield _walk(problem, route, shift)


def _overtime_s(walk: _Walk) -> int:
    return _secs(max(ZERO, walk.arrival_home - _utc(walk.shift.window.end)))


# --------------------------------------------------------------------------- rules


def check_medic(problem: Problem, result: Result) -> list[Violation]:
    """Every route belongs to a medic with a shift, and no medic has two routes."""
    known = {shift.medic_id for shift in problem.shifts}
    counts = Counter(route.medic_id for route in result.routes)
    found: list[Violation] = []
    for medic_id, count in counts.items():
        if medic_id not in known:
            found.append(Violation("medic", medic_id, f"a route belongs to medic {medic_id!r}, who has no shift"))
        if count > 1:
            found.append(Violation("medic", medic_id, f"medic {medic_id!r} has {count} routes; at most one is allowed"))
    return found


def check_departure(problem: Problem, result: Result) -> list[Violation]:
    """The medic leaves no earlier than the start of the shift."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        early = _utc(shift.window.start) - _utc(route.departure)
        if early > ZERO:
            found.append(
                Violation(
                    "departure",
                    route.medic_id,
                    f"medic {route.medic_id!r} leaves {_secs(early)} s before the shift starts",
                )
            )
    return found


def check_travel(problem: Problem, result: Result) -> list[Violation]:
    """Each stop reports the matrix's travel time and distance from the previous location."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        for leg in walk.legs:
            vid = leg.visit.id
            if leg.stop.travel_s != leg.travel_s:
                found.append(
                    Violation(
                        "travel",
                        vid,
                        f"visit {vid!r} reports travel_s {leg.stop.travel_s}, the matrix says {leg.travel_s}",
                    )
                )
            if leg.stop.distance_m != leg.distance_m:
                found.append(
                    Violation(
                        "travel",
                        vid,
                        f"visit {vid!r} reports distance_m {leg.stop.distance_m}, the matrix says {leg.distance_m}",
                    )
                )
    return found


def check_arrival(problem: Problem, result: Result) -> list[Violation]:
    """Each arrival is just in time: the service start minus the setup."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        for leg in walk.legs:
            off = _utc(leg.stop.arrival) - leg.arrival
            if off != ZERO:
                found.append(
                    Violation(
                        "arrival",
                        leg.visit.id,
                        f"visit {leg.visit.id!r} reports an arrival {_secs(off):+d} s off its start "
                        f"minus {_secs(leg.setup)} s of setup",
                    )
                )
    return found


def check_wait(problem: Problem, result: Result) -> list[Violation]:
    """Each stop's wait_s is the gap since the previous end less travel, breaks and setup."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        for leg in walk.legs:
            if leg.stop.wait_s * SECOND != leg.wait:
                found.append(
                    Violation(
                        "wait",
                        leg.visit.id,
                        f"visit {leg.visit.id!r} reports wait_s {leg.stop.wait_s}, recomputed {_secs(leg.wait)}",
                    )
                )
    return found


def check_timing(problem: Problem, result: Result) -> list[Violation]:
    """No service starts before the medic can be there and set up."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        for leg in walk.legs:
            if leg.wait < ZERO:
                found.append(
                    Violation(
                        "timing",
                        leg.visit.id,
                        f"visit {leg.visit.id!r} starts {_secs(-leg.wait)} s before arrival and setup allow",
                    )
                )
    return found


def check_end(problem: Problem, result: Result) -> list[Violation]:
    """Each stop ends exactly one service duration after it starts."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        for leg in walk.legs:
            off = _utc(leg.stop.end) - leg.end
            if off != ZERO:
                found.append(
                    Violation(
                        "end",
                        leg.visit.id,
                        f"visit {leg.visit.id!r} reports an end {_secs(off):+d} s off start + service",
                    )
                )
    return found


def check_window(problem: Problem, result: Result) -> list[Violation]:
    """Each service starts inside one of its visit's time windows (closed intervals)."""
    found: list[Violation] = []
    for route, _ in _routes(problem, result):
        for stop, visit in _known_stops(problem, route):
            start = _utc(stop.start)
            if not any(_utc(w.start) <= start <= _utc(w.end) for w in visit.windows):
                found.append(
                    Violation("window", visit.id, f"visit {visit.id!r} starts outside all of its time windows")
                )
    return found


def check_return_travel(problem: Problem, result: Result) -> list[Violation]:
    """The drive home reports the matrix's travel time and distance from the last location."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        if not walk.complete:
            continue
        route = walk.route
        if route.return_travel_s != walk.home_travel_s:
            found.append(
                Violation(
                    "return_travel",
                    route.medic_id,
                    f"medic {route.medic_id!r} reports return_travel_s {route.return_travel_s}, "
                    f"the matrix says {walk.home_travel_s}",
                )
            )
        if route.return_distance_m != walk.home_distance_m:
            found.append(
                Violation(
                    "return_travel",
                    route.medic_id,
                    f"medic {route.medic_id!r} reports return_distance_m {route.return_distance_m}, "
                    f"the matrix says {walk.home_distance_m}",
                )
            )
    return found


def check_arrival_home(problem: Problem, result: Result) -> list[Violation]:
    """The medic gets home no earlier than the last end plus the drive home plus breaks on the way."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        if walk.home_prev_end is None:
            continue
        earliest = walk.home_prev_end + walk.home_travel_s * SECOND + walk.home_breaks_in_gap
        early = earliest - walk.arrival_home
        if early > ZERO:
            found.append(
                Violation(
                    "arrival_home",
                    walk.route.medic_id,
                    f"medic {walk.route.medic_id!r} is home {_secs(early)} s before the drive home can end",
                )
            )
    return found


def check_hard_end(problem: Problem, result: Result) -> list[Violation]:
    """The medic is home by the hard end of the shift."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        late = _utc(route.arrival_home) - _utc(shift.latest_end)
        if late > ZERO:
            found.append(
                Violation(
                    "hard_end", route.medic_id, f"medic {route.medic_id!r} is home {_secs(late)} s after the hard end"
                )
            )
    return found


def _match_breaks(wanted: tuple[Break, ...], placed: tuple[Interval, ...]) -> tuple[list[int], list[int]]:
    """Maximum matching of shift breaks to placed breaks of the same length
    starting inside their window; returns the unmatched indices of each side."""
    fits = [
        [
            j
            for j, (start, end) in enumerate(placed)
            if end - start == rest.duration and _utc(rest.window.start) <= start <= _utc(rest.window.end)
        ]
        for rest in wanted
    ]
    owner: dict[int, int] = {}  # placed index -> shift break index

    def augment(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(wanted)):
        augment(i, set())
    matched = set(owner.values())
    return [i for i in range(len(wanted)) if i not in matched], [j for j in range(len(placed)) if j not in owner]


def check_breaks(problem: Problem, result: Result) -> list[Violation]:
    """Each shift break is taken exactly once: a distinct placed break of its
    length starting inside its window, and no placed break is left over.

    Breaks left unmatched on both sides are paired in time order and reported
    once per pair, saying what is wrong (length or start)."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        medic = route.medic_id
        placed = tuple((_utc(b.start), _utc(b.end)) for b in route.breaks)
        missing, extra = _match_breaks(shift.breaks, placed)
        missing.sort(key=lambda i: _utc(shift.breaks[i].window.start))
        extra.sort(key=lambda j: placed[j][0])
        for i, j in zip(missing, extra, strict=False):
            rest, (start, end) = shift.breaks[i], placed[j]
            wrong = []
            if end - start != rest.duration:
                wrong.append(f"lasts {_secs(end - start)} s instead of {_secs(rest.duration)} s")
            if not _utc(rest.window.start) <= start <= _utc(rest.window.end):
                wrong.append("starts outside its window")
            found.append(
                Violation(
                    "breaks",
                    medic,
                    f"medic {medic!r} takes shift break {i + 1} at {route.breaks[j].start.isoformat()}, "
                    f"but it {' and '.join(wrong)}",
                )
            )
        for i in missing[len(extra) :]:
            found.append(Violation("breaks", medic, f"medic {medic!r} does not take shift break {i + 1}"))
        for j in extra[len(missing) :]:
            found.append(
                Violation(
                    "breaks",
                    medic,
                    f"medic {medic!r} takes an extra break at {route.breaks[j].start.isoformat()}; "
                    f"the shift has {len(shift.breaks)}",
                )
            )
    return found


def _overlap(a: Interval, b: Interval) -> bool:
    """True when half-open intervals [a) and [b) share time (empty ones never do)."""
    return max(a[0], b[0]) < min(a[1], b[1])


def check_break_in_day(problem: Problem, result: Result) -> list[Violation]:
    """Every break lies between leaving home and getting back: a rest period is
    part of the working day, not time at home."""
    found: list[Violation] = []
    for route, _shift in _routes(problem, result):
        departure, home = _utc(route.departure), _utc(route.arrival_home)
        for placed in route.breaks:
            if _utc(placed.start) < departure or _utc(placed.end) > home:
                found.append(
                    Violation(
                        "break_in_day",
                        route.medic_id,
                        f"medic {route.medic_id!r} has a break from {placed.start.isoformat()} outside the working day",
                    )
                )
    return found


def check_break_overlap(problem: Problem, result: Result) -> list[Violation]:
    """No break overlaps a service or another break, and each lies wholly before
    departure, in one gap between stops (or on the drive home), or after arrival home."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        medic = route.medic_id
        walk = _walk(problem, route, shift)
        services = [
            (visit.id, (_utc(s.start), _utc(s.start) + visit.service)) for s, visit in _known_stops(problem, route)
        ]
        # where a break may lie: at home before leaving, in a gap before a stop,
        # on the drive home, or at home afterwards (None: unbounded)
        free: list[tuple[datetime | None, datetime | None]] = []
        if walk.complete:
            free += [(None, walk.departure), *((leg.prev_end, leg.start) for leg in walk.legs)]
            free += [(walk.home_prev_end, walk.arrival_home), (walk.arrival_home, None)]
        breaks = [(j, b) for j, b in enumerate(walk.breaks) if b[0] < b[1]]  # empty or reversed ones take no time
        for j, b in breaks:
            where = f"medic {medic!r} has a break from {route.breaks[j].start.isoformat()}"
            clash = next((vid for vid, service in services if _overlap(b, service)), None)
            other = next((k for k, c in breaks if k < j and _overlap(b, c)), None)
            if clash is not None:
                found.append(Violation("break_overlap", medic, f"{where} that overlaps the service of visit {clash!r}"))
            elif other is not None:
                found.append(
                    Violation(
                        "break_overlap",
                        medic,
                        f"{where} that overlaps the break from {route.breaks[other].start.isoformat()}",
                    )
                )
            elif free and not any((lo is None or lo <= b[0]) and (hi is None or b[1] <= hi) for lo, hi in free):
                found.append(
                    Violation(
                        "break_overlap",
                        medic,
                        f"{where} that straddles the departure, a stop's start or the arrival home",
                    )
                )
    return found


def check_skills(problem: Problem, result: Result) -> list[Violation]:
    """The medic has every skill each visit on the route needs."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        for _, visit in _known_stops(problem, route):
            missing = visit.skills - shift.skills
            if missing:
                found.append(
                    Violation(
                        "skills",
                        visit.id,
                        f"visit {visit.id!r} needs skill(s) {sorted(missing)} that medic {route.medic_id!r} lacks",
                    )
                )
    return found


def check_allowed_medics(problem: Problem, result: Result) -> list[Violation]:
    """A visit that restricts its medics is served by one of them."""
    found: list[Violation] = []
    for route, _ in _routes(problem, result):
        for _, visit in _known_stops(problem, route):
            if visit.allowed_medics is not None and route.medic_id not in visit.allowed_medics:
                found.append(
                    Violation(
                        "allowed_medics",
                        visit.id,
                        f"visit {visit.id!r} does not allow medic {route.medic_id!r}",
                    )
                )
    return found


def check_stock(problem: Problem, result: Result) -> list[Violation]:
    """The route's total demand of each supply fits the medic's stock."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        demand: Counter[str] = Counter()
        for _, visit in _known_stops(problem, route):
            demand.update(visit.demand)
        for kind in sorted(demand):
            carried = shift.stock.get(kind, 0)
            if demand[kind] > carried:
                found.append(
                    Violation(
                        "stock",
                        route.medic_id,
                        f"medic {route.medic_id!r} needs {demand[kind]} of {kind!r} but carries {carried}",
                    )
                )
    return found


def check_max_visits(problem: Problem, result: Result) -> list[Violation]:
    """The route has no more stops than the shift's max_visits."""
    found: list[Violation] = []
    for route, shift in _routes(problem, result):
        if shift.max_visits is not None and len(route.stops) > shift.max_visits:
            found.append(
                Violation(
                    "max_visits",
                    route.medic_id,
                    f"medic {route.medic_id!r} makes {len(route.stops)} visits, at most {shift.max_visits} allowed",
                )
            )
    return found


def check_assignment(problem: Problem, result: Result) -> list[Violation]:
    """Every visit is either routed once or unassigned once (with a detail), and
    every id in the result is a visit of the problem."""
    known = [visit.id for visit in problem.visits]
    known_ids = set(known)
    routed = Counter(stop.visit_id for route in result.routes for stop in route.stops)
    left_out = Counter(item.visit_id for item in result.unassigned)
    found: list[Violation] = []

    def flag(vid: str, message: str) -> None:
        found.append(Violation("assignment", vid, message))

    for vid, count in routed.items():
        if vid not in known_ids:
            flag(vid, f"visit {vid!r} is routed but is not in the problem")
        if count > 1:
            flag(vid, f"visit {vid!r} is routed {count} times")
        if vid in left_out:
            flag(vid, f"visit {vid!r} is both routed and unassigned")
    for vid, count in left_out.items():
        if vid not in known_ids:
            flag(vid, f"visit {vid!r} is unassigned but is not in the problem")
        if count > 1:
            flag(vid, f"visit {vid!r} is unassigned {count} times")
    for item in result.unassigned:
        if not item.detail.strip():
            flag(item.visit_id, f"visit {item.visit_id!r} is unassigned without a detail")
    for vid in known:
        if vid not in routed and vid not in left_out:
            flag(vid, f"visit {vid!r} is neither routed nor unassigned")
    return found


def check_groups(problem: Problem, result: Result) -> list[Violation]:
    """The visits of a group are all routed or all left out, and two of them served by
    different medics start at most ``problem.group_arrival`` apart (the medics arrive together)."""
    placed: dict[str, tuple[str, datetime]] = {}
    for route in result.routes:
        for stop in route.stops:
            placed[stop.visit_id] = (route.medic_id, _utc(stop.start))
    found: list[Violation] = []
    for group, members in problem.groups.items():
        served = [v.id for v in members if v.id in placed]
        if served and len(served) < len(members):
            missing = [v.id for v in members if v.id not in placed]
            found.append(
                Violation("groups", group, f"group {group!r} is served in part: {served} routed, {missing} not")
            )
        for a, b in itertools.combinations(served, 2):
            (medic_a, start_a), (medic_b, start_b) = placed[a], placed[b]
            apart = abs(start_a - start_b)
            if medic_a != medic_b and apart > problem.group_arrival:
                found.append(
                    Violation(
                        "groups",
                        group,
                        f"group {group!r}: visit {a!r} (medic {medic_a!r}) and visit {b!r} (medic {medic_b!r}) "
                        f"start {_secs(apart)} s apart, more than {_secs(problem.group_arrival)} s",
                    )
                )
    return found


def check_kpis(problem: Problem, result: Result) -> list[Violation]:
    """Each route's KPIs equal their recomputation from the problem and the route's times."""
    found: list[Violation] = []
    for walk in _walks(problem, result):
        if not walk.complete:
            continue
        expected = {
            "driving_s": sum(leg.travel_s for leg in walk.legs) + walk.home_travel_s,
            "distance_m": sum(leg.distance_m for leg in walk.legs) + walk.home_distance_m,
            "idle_s": _secs(sum((leg.wait for leg in walk.legs), ZERO)),
            "service_s": _secs(sum((leg.visit.service for leg in walk.legs), ZERO)),
            "overtime_s": _overtime_s(walk),
            "visits": len(walk.legs),
        }
        medic = walk.route.medic_id
        for name, value in expected.items():
            reported = getattr(walk.route.kpis, name)
            if reported != value:
                found.append(
                    Violation("kpis", medic, f"medic {medic!r} reports kpis {name} {reported}, recomputed {value}")
                )
    return found


Rule = Callable[[Problem, Result], list[Violation]]

#: Every rule by name, in the order :func:`check` runs them.
CHECKS: Mapping[str, Rule] = MappingProxyType(
    {
        "medic": check_medic,
        "departure": check_departure,
        "travel": check_travel,
        "arrival": check_arrival,
        "wait": check_wait,
        "timing": check_timing,
        "end": check_end,
        "window": check_window,
        "return_travel": check_return_travel,
        "arrival_home": check_arrival_home,
        "hard_end": check_hard_end,
        "breaks": check_breaks,
        "break_in_day": check_break_in_day,
        "break_overlap": check_break_overlap,
        "skills": check_skills,
        "allowed_medics": check_allowed_medics,
        "stock": check_stock,
        "max_visits": check_max_visits,
        "assignment": check_assignment,
        "groups": check_groups,
        "kpis": check_kpis,
    }
)


def check(problem: Problem, result: Result) -> list[Violation]:
    """Run every rule in :data:`CHECKS`; an empty list means the plan is feasible and its numbers are right."""
    return [violation for rule in CHECKS.values() for violation in rule(problem, result)]

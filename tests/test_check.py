"""Hand-computed tests for routing.check: one correct plan, then one broken thing per test.

The problem, all on 2025-06-02 in America/Denver (MDT):

    HOME (index 0) --600 s / 5000 m-- A (index 1) --300 s / 2500 m-- B (index 2)
    HOME <-> B: 900 s / 7500 m. The matrix is symmetric.

    medic m1: HOME -> HOME, shift 08:00-12:00, hard end 13:00, skills {iv},
              stock {saline: 2}, max 2 visits, one 30-minute break starting in 11:00-12:00
    visit v1: at A, window 09:00-10:00, service 45 min, setup 5 min, needs iv,
              1 saline, only m1 allowed
    visit v2: at B, window 11:00-13:00, service 30 min, setup 10 min, 1 saline

Arrivals are just in time (the slack is spent before setting off), so
arrival = start - setup and wait = start - setup - previous end - travel - breaks in the gap.

The correct plan (seconds in parentheses):

    departure 08:30
    v1: travel HOME->A 600 s, 5000 m; no break in [08:30, 09:00]
        start 09:00; setup 300 s (A != HOME); arrival = 09:00 - 300 s = 08:55
        wait = 09:00 - 300 s - 08:30 - 600 s = 1800 - 300 - 600 = 900; end = 09:00 + 2700 s = 09:45
    break 11:00-11:30 (starts inside 11:00-12:00, lies in the gap [09:45, 11:30] before v2)
    v2: travel A->B 300 s, 2500 m; the break (1800 s) lies in [09:45, 11:30]
        start 11:30; setup 600 s (B != A); arrival = 11:30 - 600 s = 11:20
        wait = 11:30 - 600 s - 09:45 - 300 s - 1800 s = 6300 - 600 - 300 - 1800 = 3600; end = 11:30 + 1800 s = 12:00
    home: travel B->HOME 900 s, 7500 m; no break in [12:00, 12:15]
        arrival_home = 12:00 + 900 s = 12:15 (<= hard end 13:00); overtime = 12:15 - 12:00 = 900 s
    kpis: driving 600 + 300 + 900 = 1800; distance 5000 + 2500 + 7500 = 15000;
          idle 900 + 3600 = 4500; service 2700 + 1800 = 4500; overtime 900; visits 2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from routing.check import CHECKS, check
from routing.model import Break, Problem, Shift, TimeWindow, UnservableVisitWarning, Visit
from routing.result import Kpis, PlacedBreak, Reason, Result, Route, Stop, Unassigned
from routing.travel.matrix import Location, TravelMatrix

DENVER = ZoneInfo("America/Denver")
HOME = Location(39.70, -105.00)
A = Location(39.70, -104.99)
B = Location(39.70, -104.98)
MATRIX = TravelMatrix(
    durations=np.array([[0, 600, 900], [600, 0, 300], [900, 300, 0]]),
    distances=np.array([[0, 5000, 7500], [5000, 0, 2500], [7500, 2500, 0]]),
)


def at(hhmm: str) -> datetime:
    """2025-06-02 at ``hhmm`` in Denver."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2025, 6, 2, hour, minute, tzinfo=DENVER)


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(at(start), at(end))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def make_problem() -> Problem:
    shift = Shift(
        medic_id="m1",
        start_location=HOME,
        end_location=HOME,
        window=window("08:00", "12:00"),
        hard_end=at("13:00"),
        skills=frozenset({"iv"}),
        stock={"saline": 2},
        breaks=(Break(minutes(30), window("11:00", "12:00")),),
        max_visits=2,
    )
    v1 = Visit(
        id="v1",
        location=A,
        service=minutes(45),
        windows=(window("09:00", "10:00"),),
        skills=frozenset({"iv"}),
        demand={"saline": 1},
        setup=minutes(5),
        allowed_medics=frozenset({"m1"}),
    )
    v2 = Visit(
        id="v2",
        location=B,
        service=minutes(30),
        windows=(window("11:00", "13:00"),),
        demand={"saline": 1},
        setup=minutes(10),
    )
    return Problem((v1, v2), (shift,), MATRIX)


def make_result() -> Result:
    route = Route(
        medic_id="m1",
        departure=at("08:30"),
        arrival_home=at("12:15"),
        stops=(
            Stop(
                "v1", arrival=at("08:55"), start=at("09:00"), end=at("09:45"), wait_s=900, travel_s=600, distance_m=5000
            ),
            Stop(
                "v2",
                arrival=at("11:20"),
                start=at("11:30"),
                end=at("12:00"),
                wait_s=3600,
                travel_s=300,
                distance_m=2500,
            ),
        ),
        breaks=(PlacedBreak(at("11:00"), at("11:30")),),
        return_travel_s=900,
        return_distance_m=7500,
        kpis=Kpis(driving_s=1800, distance_m=15000, idle_s=4500, service_s=4500, overtime_s=900, visits=2),
    )
    return Result(routes=(route,), unassigned=(), objective=0, runtime_s=0.0)


# ---------------------------------------------------------------- one-thing-changed helpers


def with_shift(problem: Problem, **changes: object) -> Problem:
    return replace(problem, shifts=(replace(problem.shifts[0], **changes),))


def with_visit(problem: Problem, visit_id: str, **changes: object) -> Problem:
    visits = tuple(replace(v, **changes) if v.id == visit_id else v for v in problem.visits)
    return replace(problem, visits=visits)


def with_route(result: Result, **changes: object) -> Result:
    return replace(result, routes=(replace(result.routes[0], **changes),))


def with_stop(result: Result, visit_id: str, **changes: object) -> Result:
    route = result.routes[0]
    stops = tuple(replace(s, **changes) if s.visit_id == visit_id else s for s in route.stops)
    return with_route(result, stops=stops)


def with_kpis(result: Result, **changes: int) -> Result:
    return with_route(result, kpis=replace(result.routes[0].kpis, **changes))


def fired(problem: Problem, result: Result) -> list[tuple[str, str]]:
    """(rule, subject) of every violation, in order."""
    return [(v.rule, v.subject) for v in check(problem, result)]


# ---------------------------------------------------------------- the correct plan


def test_check_accepts_hand_computed_plan() -> None:
    """The hand-computed plan breaks no rule."""
    assert check(make_problem(), make_result()) == []


def test_check_runs_every_rule_function() -> None:
    """CHECKS maps each rule name to its check_<rule> function."""
    assert all(rule.__name__ == f"check_{name}" for name, rule in CHECKS.items())


# ---------------------------------------------------------------- one test per rule


def test_check_flags_route_of_medic_without_shift() -> None:
    """A route for a medic with no shift trips `medic` only (other rules skip it)."""
    assert fired(make_problem(), with_route(make_result(), medic_id="m9")) == [("medic", "m9")]


def test_check_flags_second_route_for_same_medic() -> None:
    """Two routes for one medic trip `medic`."""
    result = make_result()
    # an empty day: leave 08:00, home 12:00 (HOME->HOME 0 s), break 11:00-11:30 in between; no overtime
    idle = Route("m1", at("08:00"), at("12:00"), (), (PlacedBreak(at("11:00"), at("11:30")),), 0, 0, Kpis())
    assert fired(make_problem(), replace(result, routes=(*result.routes, idle))) == [("medic", "m1")]


def test_check_flags_departure_before_shift_start() -> None:
    """Leaving at 08:30 when the shift starts at 08:45 trips `departure`."""
    problem = with_shift(make_problem(), window=window("08:45", "12:00"))
    assert fired(problem, make_result()) == [("departure", "m1")]


def test_check_flags_travel_not_matching_matrix() -> None:
    """Reporting 601 s for the 600 s drive HOME->A trips `travel`."""
    assert fired(make_problem(), with_stop(make_result(), "v1", travel_s=601)) == [("travel", "v1")]


def test_check_flags_arrival_not_start_minus_setup() -> None:
    """Reporting v2's old-style arrival 10:20 (09:45 + 300 s + 1800 s) instead of 11:30 - 600 s trips `arrival`."""
    assert fired(make_problem(), with_stop(make_result(), "v2", arrival=at("10:20"))) == [("arrival", "v2")]


def test_check_flags_wait_ignoring_break_in_gap() -> None:
    """Reporting v2's wait as 5400 s (the 30-minute break forgotten) instead of 3600 s trips `wait`."""
    # 11:30 - 600 s - 09:45 - 300 s = 6300 - 900 = 5400; idle_s is recomputed from the plan, so `kpis` holds
    assert fired(make_problem(), with_stop(make_result(), "v2", wait_s=5400)) == [("wait", "v2")]


def test_check_flags_wait_ignoring_setup() -> None:
    """Reporting v1's wait as 1200 s (09:00 - 08:30 - 600 s, setup forgotten) instead of 900 s trips `wait`."""
    assert fired(make_problem(), with_stop(make_result(), "v1", wait_s=1200)) == [("wait", "v1")]


def test_check_flags_stop_starting_before_setup_done() -> None:
    """With a 30-minute setup, v1 cannot start at 09:00 after leaving at 08:30 for a 600 s drive: `timing`."""
    problem = with_visit(make_problem(), "v1", setup=minutes(30))
    # arrival = 09:00 - 1800 s = 08:30; wait = 09:00 - 1800 s - 08:30 - 600 s = -600 (both reported honestly);
    # idle = -600 + 3600 = 3000
    result = with_kpis(with_stop(make_result(), "v1", arrival=at("08:30"), wait_s=-600), idle_s=3000)
    assert fired(problem, result) == [("timing", "v1")]


def test_check_flags_end_not_start_plus_service() -> None:
    """Ending v1 at 09:50 instead of 09:00 + 45 min trips `end`."""
    assert fired(make_problem(), with_stop(make_result(), "v1", end=at("09:50"))) == [("end", "v1")]


def test_check_flags_stop_starting_outside_windows() -> None:
    """Starting v1 at 09:00 when its only window is 09:30-10:00 trips `window`."""
    problem = with_visit(make_problem(), "v1", windows=(window("09:30", "10:00"),))
    assert fired(problem, make_result()) == [("window", "v1")]


def test_check_flags_return_travel_not_matching_matrix() -> None:
    """Reporting 901 s for the 900 s drive B->HOME trips `return_travel`."""
    assert fired(make_problem(), with_route(make_result(), return_travel_s=901)) == [("return_travel", "m1")]


def test_check_flags_arrival_home_before_drive_ends() -> None:
    """Home at 12:10 when v2 ends 12:00 and the drive takes 900 s trips `arrival_home`."""
    # overtime follows the reported arrival: 12:10 - 12:00 = 600 s
    result = with_kpis(with_route(make_result(), arrival_home=at("12:10")), overtime_s=600)
    assert fired(make_problem(), result) == [("arrival_home", "m1")]


def test_check_flags_arrival_home_after_hard_end() -> None:
    """Home at 13:05, past the 13:00 hard end, trips `hard_end`."""
    # overtime = 13:05 - 12:00 = 65 min = 3900 s
    result = with_kpis(with_route(make_result(), arrival_home=at("13:05")), overtime_s=3900)
    assert fired(make_problem(), result) == [("hard_end", "m1")]


def test_check_flags_break_starting_outside_its_window() -> None:
    """A break at 11:00 when the shift break must start in 11:10-12:00 trips `breaks`."""
    problem = with_shift(make_problem(), breaks=(Break(minutes(30), window("11:10", "12:00")),))
    assert fired(problem, make_result()) == [("breaks", "m1")]


def test_check_flags_break_of_wrong_length() -> None:
    """A 30-minute placed break against a 20-minute shift break trips `breaks`."""
    problem = with_shift(make_problem(), breaks=(Break(minutes(20), window("11:00", "12:00")),))
    assert fired(problem, make_result()) == [("breaks", "m1")]


def test_check_flags_missing_break() -> None:
    """A route with no break trips `breaks`."""
    # without the break, v2: arrival stays 11:30 - 600 s = 11:20; wait = 11:30 - 600 s - 09:45 - 300 s = 5400;
    # idle = 900 + 5400 = 6300
    result = with_stop(with_route(make_result(), breaks=()), "v2", wait_s=5400)
    assert fired(make_problem(), with_kpis(result, idle_s=6300)) == [("breaks", "m1")]


def test_check_flags_extra_break() -> None:
    """A second placed break (12:15-12:45, at home) with only one shift break trips `breaks` (and `break_in_day`)."""
    breaks = (PlacedBreak(at("11:00"), at("11:30")), PlacedBreak(at("12:15"), at("12:45")))
    assert fired(make_problem(), with_route(make_result(), breaks=breaks)) == [("breaks", "m1"), ("break_in_day", "m1")]


def _break_moved(problem: Problem, placed: PlacedBreak, break_window: TimeWindow) -> tuple[Problem, Result]:
    """The plan with its break moved out of v2's gap (so v2 still arrives 11:20 but waits 5400 s; idle 6300)."""
    problem = with_shift(problem, breaks=(Break(minutes(30), break_window),))
    result = with_stop(with_route(make_result(), breaks=(placed,)), "v2", wait_s=5400)
    return problem, with_kpis(result, idle_s=6300)


@pytest.mark.parametrize(
    ("placed", "break_window"),
    [
        # 11:15-11:45 overlaps v2's service 11:30-12:00
        (PlacedBreak(at("11:15"), at("11:45")), window("11:00", "12:00")),
        # 08:15-08:45 straddles the 08:30 departure
        (PlacedBreak(at("08:15"), at("08:45")), window("08:00", "09:00")),
        # 12:00-12:30 straddles the 12:15 arrival home (it starts on the drive home)
        (PlacedBreak(at("12:00"), at("12:30")), window("11:00", "12:00")),
    ],
    ids=["overlapping_service", "straddling_departure", "straddling_arrival_home"],
)
def test_check_flags_break_overlapping_work(placed: PlacedBreak, break_window: TimeWindow) -> None:
    """A break that overlaps a service trips `break_overlap`; one straddling departure or arrival home
    also lies partly outside the working day (`break_in_day`)."""
    expected = [("break_overlap", "m1")]
    if placed.start < at("09:00") or placed.end > at("12:15"):
        expected = [("break_in_day", "m1"), ("break_overlap", "m1")]
    assert fired(*_break_moved(make_problem(), placed, break_window)) == expected


def test_check_flags_break_taken_at_home_before_leaving() -> None:
    """A 30-minute rest 07:55-08:25 before the 08:30 departure trips `break_in_day` only."""
    problem = with_shift(
        make_problem(), window=window("07:30", "12:00"), breaks=(Break(minutes(30), window("07:30", "08:30")),)
    )
    result = with_route(make_result(), breaks=(PlacedBreak(at("07:55"), at("08:25")),))
    # v2's gap no longer holds the break: its wait grows from 3600 to 5400 s, idle from 4500 to 6300
    result = with_kpis(with_stop(result, "v2", wait_s=5400), idle_s=6300)
    assert fired(problem, result) == [("break_in_day", "m1")]


def test_check_flags_breaks_overlapping_each_other() -> None:
    """Two identical 30-minute breaks (the shift has two) overlap each other: `break_overlap`."""
    rest = Break(minutes(30), window("11:00", "12:00"))
    problem = with_shift(make_problem(), breaks=(rest, rest))
    both = (PlacedBreak(at("11:00"), at("11:30")), PlacedBreak(at("11:00"), at("11:30")))
    # both lie in v2's gap: arrival stays 11:20; wait = 11:30 - 600 s - 09:45 - 300 s - 2 * 1800 s = 1800;
    # idle = 900 + 1800 = 2700
    result = with_stop(with_route(make_result(), breaks=both), "v2", wait_s=1800)
    assert fired(problem, with_kpis(result, idle_s=2700)) == [("break_overlap", "m1")]


def test_check_flags_visit_needing_skill_medic_lacks() -> None:
    """v1 needing {iv, ecg} from a medic with only {iv} trips `skills`."""
    with pytest.warns(UnservableVisitWarning):
        problem = with_visit(make_problem(), "v1", skills=frozenset({"iv", "ecg"}))
    assert fired(problem, make_result()) == [("skills", "v1")]


def test_check_flags_medic_not_allowed_for_visit() -> None:
    """v1 allowing only m2 but routed to m1 trips `allowed_medics`."""
    problem = with_visit(make_problem(), "v1", allowed_medics=frozenset({"m2"}))
    assert fired(problem, make_result()) == [("allowed_medics", "v1")]


def test_check_flags_route_exceeding_stock() -> None:
    """Two visits needing 1 saline each against a stock of 1 trips `stock`."""
    assert fired(with_shift(make_problem(), stock={"saline": 1}), make_result()) == [("stock", "m1")]


def test_check_flags_route_exceeding_max_visits() -> None:
    """Two stops for a medic allowed one trips `max_visits`."""
    assert fired(with_shift(make_problem(), max_visits=1), make_result()) == [("max_visits", "m1")]


def _with_v3(problem: Problem) -> Problem:
    """Add v3 at A (an existing location, so the matrix still fits)."""
    v3 = Visit("v3", A, minutes(10), (window("09:00", "12:00"),))
    return replace(problem, visits=(*problem.visits, v3))


def _unassign(result: Result, *items: Unassigned) -> Result:
    return replace(result, unassigned=items)


ASSIGNMENT_CASES: dict[str, Callable[[], tuple[Problem, Result, str]]] = {
    "routed_and_unassigned": lambda: (
        make_problem(),
        _unassign(make_result(), Unassigned("v1", Reason.CROWDED_OUT, "lost out")),
        "v1",
    ),
    "neither_routed_nor_unassigned": lambda: (_with_v3(make_problem()), make_result(), "v3"),
    "unknown_unassigned_id": lambda: (
        make_problem(),
        _unassign(make_result(), Unassigned("v9", Reason.UNREACHABLE, "too far")),
        "v9",
    ),
    "unassigned_twice": lambda: (
        _with_v3(make_problem()),
        _unassign(
            make_result(),
            Unassigned("v3", Reason.CROWDED_OUT, "lost out"),
            Unassigned("v3", Reason.CROWDED_OUT, "lost out"),
        ),
        "v3",
    ),
    "unassigned_without_detail": lambda: (
        _with_v3(make_problem()),
        _unassign(make_result(), Unassigned("v3", Reason.CROWDED_OUT, "  ")),
        "v3",
    ),
}


@pytest.mark.parametrize("case", ASSIGNMENT_CASES)
def test_check_flags_visit_not_accounted_for_once(case: str) -> None:
    """Routed and unassigned, in neither, unknown, unassigned twice, or without a detail: `assignment`."""
    problem, result, subject = ASSIGNMENT_CASES[case]()
    assert fired(problem, result) == [("assignment", subject)]


def test_check_flags_kpis_not_matching_recomputation() -> None:
    """Reporting 1799 s of driving instead of 600 + 300 + 900 = 1800 trips `kpis`."""
    assert fired(make_problem(), with_kpis(make_result(), driving_s=1799)) == [("kpis", "m1")]


# ---------------------------------------------------------------- subtler correct plans


def test_check_accepts_shared_setup_at_same_location() -> None:
    """A third visit at v2's location needs no setup and no travel."""
    v3 = Visit("v3", B, minutes(15), (window("12:00", "13:00"),), setup=minutes(10))
    problem = with_shift(replace(make_problem(), visits=(*make_problem().visits, v3)), max_visits=None)
    # v3: travel B->B 0 s; setup 0 (same location); start 12:00, arrival = 12:00 - 0 s = 12:00;
    # wait = 12:00 - 0 s - 12:00 - 0 s = 0; end 12:15
    # home: 12:15 + 900 s = 12:30; overtime = 30 min = 1800; service = 4500 + 900 = 5400
    v3_stop = Stop("v3", arrival=at("12:00"), start=at("12:00"), end=at("12:15"), wait_s=0, travel_s=0, distance_m=0)
    result = with_route(make_result(), stops=(*make_result().routes[0].stops, v3_stop), arrival_home=at("12:30"))
    result = with_kpis(result, service_s=5400, overtime_s=1800, visits=3)
    assert check(problem, result) == []


def test_check_accepts_route_across_dst_fall_back() -> None:
    """Times are compared in UTC: a 2-hour service across the 2025-11-02 fall-back ends at 01:40 MST."""
    night = TimeWindow(datetime(2025, 11, 2, 0, 0, tzinfo=DENVER), datetime(2025, 11, 2, 4, 0, tzinfo=DENVER))
    shift = Shift("m1", HOME, HOME, night)  # 06:00Z-11:00Z, no breaks
    visit = Visit("v1", A, timedelta(hours=2), (TimeWindow(night.start, datetime(2025, 11, 2, 1, 0, tzinfo=DENVER)),))
    matrix = TravelMatrix(np.array([[0, 600], [600, 0]]), np.array([[0, 5000], [5000, 0]]))
    problem = Problem((visit,), (shift,), matrix)
    # leave 00:30 MDT (06:30Z); no setup, so arrival = start = 06:40Z = 00:40 MDT, wait = 06:40Z - 06:30Z - 600 s = 0;
    # end 06:40Z + 2 h = 08:40Z = 01:40 MST (fold=1);
    # home 08:40Z + 600 s = 08:50Z = 01:50 MST (fold=1). Wall-clock arithmetic would say 02:40 and 02:50.
    end = datetime(2025, 11, 2, 1, 40, fold=1, tzinfo=DENVER)
    assert end.astimezone(UTC) == datetime(2025, 11, 2, 8, 40, tzinfo=UTC)
    start = datetime(2025, 11, 2, 0, 40, tzinfo=DENVER)
    stop = Stop("v1", arrival=start, start=start, end=end, wait_s=0, travel_s=600, distance_m=5000)
    route = Route(
        medic_id="m1",
        departure=datetime(2025, 11, 2, 0, 30, tzinfo=DENVER),
        arrival_home=datetime(2025, 11, 2, 1, 50, fold=1, tzinfo=DENVER),
        stops=(stop,),
        breaks=(),
        return_travel_s=600,
        return_distance_m=5000,
        kpis=Kpis(driving_s=1200, distance_m=10000, idle_s=0, service_s=7200, overtime_s=0, visits=1),
    )
    result = Result(routes=(route,), unassigned=(), objective=0, runtime_s=0.0)
    assert check(problem, result) == []
    wall_clock = start + timedelta(hours=2)  # 02:40 MST, an hour too late
    assert fired(problem, with_stop(result, "v1", end=wall_clock)) == [("end", "v1")]

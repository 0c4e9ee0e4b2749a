"""Group bookings: served whole or not at all, and medics who share one arrive together.

Tiny days along a straight road (1 min per km), solved with real OR-Tools and seeded by
real VROOM and PyVRP; every plan also passes the independent checker (``solve_checked``).
"""

from __future__ import annotations

from datetime import timedelta

from routing import Problem, Reason, Shift, Visit
from routing.check import check_groups
from routing.result import Kpis, Result, Route, Stop
from tests.helpers import at, line_matrix, minutes, solve_checked, spot, window


def part(vid: str, k: int, start: str, end: str, service: float = 85, group: str = "hotel", **extra) -> Visit:  # type: ignore[no-untyped-def]
    return Visit(vid, spot(k), minutes(service), (window(start, end),), setup=minutes(15), group=group, **extra)


def medic(mid: str, k: int) -> Shift:
    return Shift(mid, spot(k), spot(k), window("08:00", "17:00"))


def placed(result: Result) -> dict[str, tuple[str, object]]:
    return {stop.visit_id: (route.medic_id, stop.start) for route in result.routes for stop in route.stops}


def test_solve_serves_a_group_back_to_back_when_its_window_allows() -> None:
    """Two 85-minute parts with a 09:00-12:00 window: one medic, one setup, the second part right after."""
    problem = Problem(
        [part("p1", 2, "09:00", "12:00"), part("p2", 2, "09:00", "12:00")],
        [medic("a", 0), medic("b", 1)],
        line_matrix([0, 1, 5]),
    )
    result = solve_checked(problem)
    where = placed(result)
    assert {where["p1"][0], where["p2"][0]} == {"a"} or {where["p1"][0], where["p2"][0]} == {"b"}
    (route,) = result.routes
    first, second = route.stops
    assert second.start == first.end
    assert second.travel_s == 0


def test_solve_sends_two_medics_who_arrive_together_when_one_cannot_serve_both_parts() -> None:
    """The window 09:00-09:30 cannot hold two 85-minute parts back to back: each medic takes one,
    and the two start within the 10-minute group arrival."""
    problem = Problem(
        [part("p1", 2, "09:00", "09:30"), part("p2", 2, "09:00", "09:30")],
        [medic("a", 0), medic("b", 1)],
        line_matrix([0, 1, 5]),
    )
    result = solve_checked(problem)
    where = placed(result)
    assert where["p1"][0] != where["p2"][0]
    assert abs(where["p1"][1] - where["p2"][1]) <= timedelta(minutes=10)


def test_solve_leaves_a_group_out_whole_when_only_part_of_it_fits() -> None:
    """One medic and a 09:00-09:30 window for two parts: serving one would tell the other patients
    nobody is coming, so neither is served, and both give the same true reason."""
    problem = Problem(
        [part("p1", 2, "09:00", "09:30"), part("p2", 2, "09:00", "09:30")],
        [medic("a", 0)],
        line_matrix([0, 5]),
    )
    result = solve_checked(problem)
    assert result.routes == ()
    assert {item.visit_id: item.reason for item in result.unassigned} == {
        "p1": Reason.UNREACHABLE,
        "p2": Reason.UNREACHABLE,
    }
    assert all("whole group" in item.detail for item in result.unassigned)


def test_solve_leaves_every_part_out_when_one_part_has_nobody_allowed() -> None:
    """Part 2 needs a medic who is not on shift: part 1 stays out too, with part 2's reason."""
    problem = Problem(
        [part("p1", 2, "09:00", "12:00"), part("p2", 2, "09:00", "12:00", allowed_medics=frozenset({"absent"}))],
        [medic("a", 0)],
        line_matrix([0, 5]),
    )
    result = solve_checked(problem)
    assert result.routes == ()
    reasons = {item.visit_id: item for item in result.unassigned}
    assert reasons["p1"].reason is Reason.NO_ELIGIBLE_MEDIC
    assert "whole or not at all" in reasons["p1"].detail and "p2" in reasons["p1"].detail


def _route(medic_id: str, visit_id: str, start: str) -> Route:
    begins = at(start)
    stop = Stop(visit_id, begins, begins, begins + minutes(85), 0, 0, 0)
    return Route(medic_id, begins, begins + minutes(85), (stop,), (), 0, 0, Kpis(visits=1, service_s=85 * 60))


def test_check_flags_a_group_served_in_part_and_medics_who_do_not_arrive_together() -> None:
    """The checker's group rule: one part routed and one not is a violation; two medics 20 minutes
    apart break a 10-minute arrival; 5 minutes apart is fine."""
    problem = Problem(
        [part("p1", 1, "09:00", "12:00"), part("p2", 1, "09:00", "12:00")],
        [medic("a", 0), medic("b", 0)],
        line_matrix([0, 1]),
    )
    half = Result((_route("a", "p1", "09:00"),), (), 0, 0.0)
    assert [v.rule for v in check_groups(problem, half)] == ["groups"]
    apart = Result((_route("a", "p1", "09:00"), _route("b", "p2", "09:20")), (), 0, 0.0)
    (late,) = check_groups(problem, apart)
    assert "1200 s apart, more than 600 s" in late.message
    together = Result((_route("a", "p1", "09:00"), _route("b", "p2", "09:05")), (), 0, 0.0)
    assert check_groups(problem, together) == []

"""Moves by hand (routing.resequence): the visit goes where it is put, the two routes it touched are timed
again, and the checker judges the order. Tiny days along a straight road (1 min per km), both medics at km 0."""

from __future__ import annotations

import pytest

from routing import Problem, Result, Shift, Visit, solve
from routing.check import check
from routing.resequence import move_visit
from tests.helpers import QUICK, at, line_matrix, minutes, spot, window


def visit(vid: str, k: int, start: str = "08:00", end: str = "17:00", service: float = 30) -> Visit:
    return Visit(vid, spot(k), minutes(service), (window(start, end),))


def shift(mid: str, **extra) -> Shift:  # type: ignore[no-untyped-def]
    extra.setdefault("window", window("08:00", "12:00"))
    return Shift(mid, spot(0), spot(0), **extra)


def day() -> Problem:
    """Visits at km 10 ("a"), 20 ("b") and 30 ("c", 08:00-08:40 only); medics "m" and "n" at km 0."""
    visits = [visit("a", 1), visit("b", 2), visit("c", 3, "08:00", "08:40")]
    return Problem(visits, [shift("m"), shift("n")], line_matrix([0, 10, 20, 30]))


def plan() -> tuple[Problem, Result]:
    problem = day()
    result = solve(problem, QUICK)
    assert check(problem, result) == []
    return problem, result


def test_move_visit_to_another_medic_times_both_routes_and_keeps_the_plan_feasible() -> None:
    """ "a" moved to whoever does not serve it: it leaves one route and opens the other's, and the checker is
    content; "a" starts at 08:10 (ten minutes' drive from home at 08:00)."""
    problem, result = plan()
    owner = next(route.medic_id for route in result.routes if "a" in route.visit_ids)
    other = "n" if owner == "m" else "m"
    moved = move_visit(problem, result, "a", other, 0)
    assert check(problem, moved) == []
    orders = {route.medic_id: route.visit_ids for route in moved.routes}
    assert orders[other][0] == "a" and "a" not in orders.get(owner, ())
    stop = next(s for route in moved.routes for s in route.stops if s.visit_id == "a")
    assert stop.start == at("08:10")
    assert sorted(v for r in moved.routes for v in r.visit_ids) == ["a", "b", "c"]


def test_move_visit_that_misses_its_window_is_named_by_the_checker() -> None:
    """ "c" (08:00-08:40, at km 30) put after "a" and "b" on one route cannot start before 09:10 there: the
    checker names the window rule for "c"."""
    problem = day()
    empty = Result((), (), 0, 0.0)
    route_ab = move_visit(problem, move_visit(problem, empty, "a", "m", 0), "b", "m", 1)
    moved = move_visit(problem, route_ab, "c", "m", 2)
    rules = {(v.rule, v.subject) for v in check(problem, moved)}
    assert ("window", "c") in rules


def test_move_visit_within_a_route_keeps_every_other_route_as_it_was() -> None:
    """Reordering "a" and "b" on medic m leaves medic n's route the very same object."""
    problem = day()
    start = Result((), (), 0, 0.0)
    two = move_visit(problem, move_visit(problem, start, "a", "m", 0), "b", "m", 1)
    three = move_visit(problem, two, "c", "n", 0)
    swapped = move_visit(problem, three, "b", "m", 0)
    routes = {route.medic_id: route for route in swapped.routes}
    assert routes["m"].visit_ids == ("b", "a")
    assert routes["n"] is {route.medic_id: route for route in three.routes}["n"]


def test_move_visit_rejects_an_unknown_medic() -> None:
    """A medic who is not on shift is a KeyError naming them, not a silent new route."""
    problem, result = plan()
    with pytest.raises(KeyError):
        move_visit(problem, result, "a", "nobody", 0)

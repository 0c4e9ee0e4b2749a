"""The reasons a visit is left out are true (routing.explain): checked against the plan itself.

Tiny days along a straight road (1 min per km); every plan comes from a real solve or is
written out by hand, and the reason's claim is checked on paper in each docstring.
"""

from __future__ import annotations

from routing import Break, Problem, Reason, Shift, Visit
from routing.compiled import compile_problem
from routing.explain import Placed, explain
from tests.helpers import QUICK, line_matrix, minutes, solve_checked, spot, window


def visit(vid: str, k: int, start: str = "08:00", end: str = "17:00", service: float = 30, **extra) -> Visit:  # type: ignore[no-untyped-def]
    return Visit(vid, spot(k), minutes(service), (window(start, end),), **extra)


def shift(mid: str, k: int, **extra) -> Shift:  # type: ignore[no-untyped-def]
    extra.setdefault("window", window("08:00", "17:00"))
    return Shift(mid, spot(k), spot(k), **extra)


def reasons(result) -> dict[str, Reason]:  # type: ignore[no-untyped-def]
    return {item.visit_id: item.reason for item in result.unassigned}


def test_explain_a_full_day_as_no_room_when_priorities_are_equal() -> None:
    """Both need 10:00-11:00 and have priority 1: the one left out had no room, nobody displaced it."""
    problem = Problem(
        [visit("a", 1, "10:00", "10:00", 60), visit("b", 2, "10:00", "10:00", 60)],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    result = solve_checked(problem)
    assert list(reasons(result).values()) == [Reason.NO_ROOM]
    assert "full" in result.unassigned[0].detail


def test_explain_a_displaced_visit_as_crowded_out_by_higher_priority() -> None:
    """Priority 3 takes the only 10:00 slot; the priority-1 visit would fit without it: crowded out."""
    problem = Problem(
        [visit("low", 1, "10:00", "10:00", 60), visit("high", 2, "10:00", "10:00", 60, priority=3)],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    result = solve_checked(problem)
    assert reasons(result) == {"low": Reason.CROWDED_OUT}
    assert "1 higher-priority visit(s) on the day of medic m" in result.unassigned[0].detail


def test_explain_a_visit_that_still_fits_as_search_time_when_the_search_was_cut_short() -> None:
    """A plan that leaves 'b' out although it fits on the medic's day, from a search that ran out of
    time: the reason says the search ran out of time, and names the medic whose day has room."""
    problem = Problem([visit("a", 1), visit("b", 2)], [shift("m", 0)], line_matrix([0, 1, 2]))
    c = compile_problem(problem, QUICK)
    (item,) = explain(problem, ["b"], Placed(c, [[1]], unfinished=True))
    assert item.reason is Reason.SEARCH_TIME
    assert "medic m" in item.detail


def test_explain_a_visit_only_the_breaks_keep_out_as_unreachable() -> None:
    """A 4-hour drip that must start at 09:00 in a shift whose lunch must start 10:00-11:00: the
    medic could reach it, but never serve it and still take lunch."""
    lunch = Break(minutes(30), window("10:00", "11:00"))
    problem = Problem([visit("long", 1, "09:00", "09:00", 240)], [shift("m", 0, breaks=(lunch,))], line_matrix([0, 1]))
    result = solve_checked(problem)
    assert reasons(result) == {"long": Reason.UNREACHABLE}
    assert "breaks" in result.unassigned[0].detail


def test_explain_without_a_plan_says_no_plan_placed_the_visit() -> None:
    """With no plan to check against (a search cut off before its first plan), a visit that fits on an
    empty day is left out because the search ended, never because a day was full."""
    problem = Problem([visit("a", 1)], [shift("m", 0)], line_matrix([0, 1]))
    (item,) = explain(problem, ["a"])
    assert item.reason is Reason.SEARCH_TIME
    assert item.reason.feasible_alone

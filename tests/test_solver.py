"""Tiny problems whose best plans are known by hand, solved with real OR-Tools.

Travel runs along a straight road (``line_matrix``): one minute and one
kilometre per kilometre, so every figure below can be checked on paper.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace

import pytest

from routing import Break, Problem, Reason, Shift, UnservableVisitWarning, Visit
from routing.compiled import compile_problem
from routing.solver import SearchJob, run_search
from tests.helpers import QUICK, at, line_matrix, minutes, solve_checked, spot, window

DAY = window("08:00", "17:00")


def visit(vid: str, k: int, start: str = "08:00", end: str = "17:00", service: float = 30, **extra) -> Visit:  # type: ignore[no-untyped-def]
    return Visit(vid, spot(k), minutes(service), (window(start, end),), **extra)


def shift(mid: str, k: int, **extra) -> Shift:  # type: ignore[no-untyped-def]
    extra.setdefault("window", DAY)
    return Shift(mid, spot(k), spot(k), **extra)


def routes_of(result) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {route.medic_id: list(route.visit_ids) for route in result.routes}


def test_solve_assigns_each_medic_the_visits_near_home() -> None:
    """West medic takes w1, w2 and east takes e1, e2; 4 km each, 8 km in all."""
    # positions: W=0, E=10, w1=1, w2=2, e1=8, e2=9 (km); windows force w1 before w2, e1 before e2
    problem = Problem(
        [
            visit("w1", 2, "09:00", "09:30"),
            visit("w2", 3, "10:00", "10:30"),
            visit("e1", 4, "09:00", "09:30"),
            visit("e2", 5, "10:00", "10:30"),
        ],
        [shift("west", 0), shift("east", 1)],
        line_matrix([0, 10, 1, 2, 8, 9]),
    )
    result = solve_checked(problem)
    assert routes_of(result) == {"west": ["w1", "w2"], "east": ["e1", "e2"]}
    # west: 0->1->2->0 = 1 + 1 + 2 km; east: 10->8->9->10 = 2 + 1 + 1 km
    assert result.kpis.distance_m == 8000
    assert result.kpis.driving_s == 8 * 60
    assert result.unassigned == ()


def test_solve_follows_windows_against_the_shorter_order() -> None:
    """B (2 km out) opens first, so the medic drives past A: 0->2->1->0 is 4 km."""
    problem = Problem(
        [visit("A", 1, "11:00", "12:00"), visit("B", 2, "08:00", "09:00")],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    result = solve_checked(problem)
    assert routes_of(result) == {"m": ["B", "A"]}
    assert result.kpis.distance_m == 4000


def test_solve_times_stops_exactly_when_windows_pin_them() -> None:
    """Point windows at 09:00 and 10:00: leave 08:55, serve, home 10:35 with 0 idle."""
    # home=0, v1=5 km, v2=10 km; service 30 min; travel 5 min each way out, 10 back
    problem = Problem(
        [visit("v1", 1, "09:00", "09:00"), visit("v2", 2, "10:00", "10:00")],
        [shift("m", 0)],
        line_matrix([0, 5, 10]),
    )
    route = solve_checked(problem).routes[0]
    assert route.departure == at("08:55")
    assert [(s.arrival, s.start, s.end) for s in route.stops] == [
        (at("09:00"), at("09:00"), at("09:30")),
        (at("10:00"), at("10:00"), at("10:30")),
    ]
    # 09:30 -> 10:00 holds 5 min of driving and 25 min of slack
    assert [s.wait_s for s in route.stops] == [0, 25 * 60]
    assert route.arrival_home == at("10:40")
    assert route.kpis.driving_s == 20 * 60


def test_solve_sends_a_skilled_visit_to_the_medic_with_the_skill() -> None:
    """NAD+ goes to the far medic who is an RN, not the near paramedic."""
    problem = Problem(
        [visit("nad", 2, skills=frozenset({"nad"}))],
        [shift("near", 0, skills=frozenset({"iv"})), shift("far", 1, skills=frozenset({"iv", "nad"}))],
        line_matrix([0, 20, 1]),
    )
    assert routes_of(solve_checked(problem)) == {"far": ["nad"]}


def test_solve_respects_the_stock_in_each_car() -> None:
    """The near medic carries one bag, so the second one-bag visit goes to the far medic."""
    problem = Problem(
        [visit("a", 2, demand={"bag": 1}), visit("b", 3, demand={"bag": 1})],
        [shift("near", 0, stock={"bag": 1}), shift("far", 1, stock={"bag": 5})],
        line_matrix([0, 10, 1, 2]),
    )
    result = solve_checked(problem)
    assert sorted(len(stops) for stops in routes_of(result).values()) == [1, 1]
    assert result.unassigned == ()


def test_solve_caps_visits_per_medic() -> None:
    """With max_visits=1 for the near medic, the far one takes the other visit."""
    problem = Problem(
        [visit("a", 2), visit("b", 3)],
        [shift("near", 0, max_visits=1), shift("far", 1)],
        line_matrix([0, 10, 1, 2]),
    )
    assert sorted(len(stops) for stops in routes_of(solve_checked(problem)).values()) == [1, 1]


def test_solve_keeps_the_break_off_the_service() -> None:
    """A 30-min break that may start 12:00-13:30 goes after a 12:00-13:00 service."""
    lunch = Break(minutes(30), window("12:00", "13:30"))
    problem = Problem(
        [visit("v", 1, "12:00", "12:00", service=60)],
        [shift("m", 0, breaks=(lunch,))],
        line_matrix([0, 1]),
    )
    route = solve_checked(problem).routes[0]
    (placed,) = route.breaks
    assert placed.start >= at("13:00")
    assert placed.end - placed.start == minutes(30)


def test_solve_sets_up_once_for_a_group_at_one_address() -> None:
    """Two patients at one hotel: 15 min setup before the first only; the second starts as the first ends."""
    problem = Problem(
        [
            Visit("p1", spot(1), minutes(40), (window("09:00", "12:00"),), setup=minutes(15)),
            Visit("p2", spot(1), minutes(40), (window("09:00", "12:00"),), setup=minutes(15)),
        ],
        [shift("m", 0, window=window("09:00", "17:00"))],
        line_matrix([0, 5]),
    )
    route = solve_checked(problem).routes[0]
    first, second = route.stops
    # leave 09:00, drive 5 min, set up 15 min: the first drip starts 09:20 at the earliest
    assert first.start >= at("09:20")
    assert first.start - first.arrival == minutes(15)
    assert second.start == first.end
    assert second.travel_s == 0


def test_solve_serves_the_higher_priority_visit_when_only_one_fits() -> None:
    """Both need 10:00-11:00; priority 5 beats priority 1, which is crowded out."""
    problem = Problem(
        [visit("low", 1, "10:00", "10:00", service=60), visit("high", 2, "10:00", "10:00", service=60, priority=5)],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    result = solve_checked(problem)
    assert routes_of(result) == {"m": ["high"]}
    assert [(u.visit_id, u.reason) for u in result.unassigned] == [("low", Reason.CROWDED_OUT)]


def test_solve_lets_an_optional_visit_yield_to_a_mandatory_one() -> None:
    """An optional visit of priority 10 still yields to a mandatory one of priority 1."""
    problem = Problem(
        [
            visit("must", 1, "10:00", "10:00", service=60),
            visit("nice", 2, "10:00", "10:00", service=60, optional=True, priority=10),
        ],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    assert routes_of(solve_checked(problem)) == {"m": ["must"]}


def test_solve_honours_a_preferred_medic_at_a_small_cost() -> None:
    """Two medics 1 km away on either side; the visit prefers 'right'."""
    problem = Problem(
        [visit("v", 2, preferred_medics=frozenset({"right"}))],
        [shift("left", 0), shift("right", 1)],
        line_matrix([0, 2, 1]),
    )
    assert routes_of(solve_checked(problem)) == {"right": ["v"]}


def test_solve_counts_overtime_past_the_soft_end() -> None:
    """A 16:30-17:30 visit 10 min from home ends 17:30: home 17:40, 40 min past a 17:00 soft end."""
    problem = Problem(
        [visit("late", 1, "16:30", "16:30", service=60)],
        [shift("m", 0, hard_end=at("18:00"))],
        line_matrix([0, 10]),
    )
    route = solve_checked(problem).routes[0]
    assert route.arrival_home == at("17:40")
    assert route.kpis.overtime_s == 40 * 60


def test_solve_uses_the_later_of_two_windows_when_the_first_is_before_the_shift() -> None:
    """Windows 07:00-07:10 and 14:00-15:00 with a shift from 08:00: served in the second."""
    v = Visit("v", spot(1), minutes(30), (window("07:00", "07:10"), window("14:00", "15:00")))
    route = solve_checked(Problem([v], [shift("m", 0)], line_matrix([0, 1]))).routes[0]
    assert at("14:00") <= route.stops[0].start <= at("15:00")


def test_solve_ends_a_shift_at_a_different_place_from_where_it_starts() -> None:
    """Start at 0, end at 10, one visit at 5: 10 km driven."""
    problem = Problem(
        [visit("v", 2)],
        [Shift("m", spot(0), spot(1), DAY)],
        line_matrix([0, 10, 5]),
    )
    result = solve_checked(problem)
    assert result.kpis.distance_m == 10_000
    assert result.routes[0].return_distance_m == 5000


@pytest.mark.parametrize(
    ("bad_visit", "reason"),
    [
        (visit("x", 2, skills=frozenset({"pediatric"})), Reason.NO_SKILL),
        (visit("x", 2, allowed_medics=frozenset({"someone-off-today"})), Reason.NO_ELIGIBLE_MEDIC),
        (visit("x", 2, demand={"nad_vial": 9}), Reason.NOT_ENOUGH_STOCK),
        (visit("x", 2, "05:00", "06:00"), Reason.OUTSIDE_SHIFTS),
        (visit("x", 2, "08:00", "08:30"), Reason.UNREACHABLE),
    ],
    ids=["no_skill", "no_eligible_medic", "not_enough_stock", "outside_shifts", "unreachable"],
)
def test_solve_explains_a_visit_it_cannot_place(bad_visit: Visit, reason: Reason) -> None:
    """Each impossible visit is kept, unassigned, with the reason a dispatcher can act on."""
    # spot 2 is 45 km out: 45 min away, so an 08:00-08:30 window cannot be met from an 08:00 start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservableVisitWarning)  # the no_skill case warns by design
        problem = Problem(
            [visit("ok", 1), bad_visit],
            [shift("m", 0, stock={"nad_vial": 2})],
            line_matrix([0, 1, 45]),
        )
    result = solve_checked(problem)
    assert routes_of(result) == {"m": ["ok"]}
    assert [(u.visit_id, u.reason) for u in result.unassigned] == [("x", reason)]


def test_solve_returns_a_plan_even_when_nothing_fits() -> None:
    """Overbooked: one 8-hour shift, five 3-hour visits; a plan still comes back."""
    problem = Problem(
        [visit(f"v{k}", 1, service=180) for k in range(5)],
        [shift("m", 0)],
        line_matrix([0, 1]),
    )
    result = solve_checked(problem)
    assert len(result.routes[0].stops) == 2  # 08:01-11:01, 11:01-14:01; a third would end 17:01
    # every visit has the same priority, so none was displaced by higher-priority work: the day is full
    assert {u.reason for u in result.unassigned} == {Reason.NO_ROOM}


def test_solve_with_no_medics_leaves_everything_unassigned() -> None:
    """No shifts at all: no routes, every visit unassigned with a reason."""
    problem = Problem([visit("v", 0)], [], line_matrix([0]))
    result = solve_checked(problem)
    assert result.routes == ()
    assert [u.reason for u in result.unassigned] == [Reason.NO_SKILL]


@pytest.mark.parametrize("breaks", [False, True], ids=["pyvrp_seeds", "vroom_seeds"])
def test_solve_repeats_exactly_with_the_same_seed_and_work_limit(breaks: bool) -> None:
    """Two parallel runs with work limits give identical routes, times and objective, whichever search seeds them."""
    visits = [visit(f"v{k}", k % 6 + 1, f"{8 + k % 8:02d}:00", f"{10 + k % 8:02d}:00") for k in range(14)]
    rest = (Break(minutes(10), window("10:00", "12:00")),) if breaks else ()
    problem = Problem(
        visits,
        [shift("a", 0, breaks=rest), shift("b", 7, breaks=rest)],
        line_matrix([0, 3, 7, 12, 18, 25, 31, 40]),
    )
    # a generous clock, so that the work limit is what stops every search
    params = replace(QUICK, workers=2, solution_limit=300, seed=3, time_limit_s=60.0)
    first, second = solve_checked(problem, params), solve_checked(problem, params)
    assert first.routes == second.routes
    assert first.objective == second.objective


def test_solve_seeds_days_with_breaks_from_vroom() -> None:
    """With breaks in a shift, VROOM (which searches with breaks) seeds the plan, not PyVRP's relaxation."""
    lunch = Break(minutes(30), window("11:00", "13:00"))
    problem = Problem([visit("v", 1)], [shift("m", 0, breaks=(lunch,))], line_matrix([0, 1]))
    result = solve_checked(problem)
    assert result.searches[0].startswith("vroom level 5")
    assert not any(label.startswith("pyvrp") for label in result.searches)
    assert routes_of(result) == {"m": ["v"]}


def test_solve_seeds_days_without_breaks_from_pyvrp() -> None:
    """With no breaks at all, PyVRP's search (then exact, not a relaxation) seeds the plan."""
    problem = Problem([visit("v", 1)], [shift("m", 0)], line_matrix([0, 1]))
    result = solve_checked(problem)
    assert result.searches[0].startswith("pyvrp relaxed, seed 0")
    assert routes_of(result) == {"m": ["v"]}


def test_solve_plans_with_ortools_alone_when_no_seeder_is_named() -> None:
    """seeders = () leaves OR-Tools' own first-solution search, and the plan is the same here."""
    problem = Problem([visit("v", 1)], [shift("m", 0)], line_matrix([0, 1]))
    result = solve_checked(problem, replace(QUICK, seeders=()))
    assert result.searches[0].startswith("ortools PARALLEL_CHEAPEST_INSERTION")
    assert routes_of(result) == {"m": ["v"]}


def test_first_plan_only_search_returns_a_plan_that_serves() -> None:
    """The rescue search (used when no first-solution heuristic finished in time) stops at a plan that
    serves visits, not at OR-Tools' plan that serves none; the plan passes the checker."""
    problem = Problem(
        [visit("w1", 2, "09:00", "09:30"), visit("e1", 4, "09:00", "09:30")],
        [shift("west", 0), shift("east", 1)],
        line_matrix([0, 10, 1, 8]),
    )
    params = replace(QUICK, workers=1)
    compiled = compile_problem(problem, params)
    found = run_search(
        compiled,
        SearchJob("LOCAL_CHEAPEST_INSERTION", params.metaheuristic, params.guided_local_search_lambda),
        deadline=time.monotonic() + 60,  # were the stop broken, this test would take a minute
        solution_limit=None,
        first_plan_only=True,
    )
    assert found is not None
    assert found.served >= 1

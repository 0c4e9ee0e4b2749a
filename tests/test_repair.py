"""Seeds made whole (routing.repair) and improved (routing.lns), and OR-Tools restoring them
(routing.solver.build), on tiny hand-checkable days along a straight road (1 min per km)."""

from __future__ import annotations

from routing import Break, Problem, Shift, Visit
from routing.compiled import compile_problem
from routing.lns import Lns
from routing.repair import Repair
from routing.solver import build
from tests.helpers import QUICK, line_matrix, minutes, spot, window


def visit(vid: str, k: int, start: str = "08:00", end: str = "17:00", service: float = 30, **extra) -> Visit:  # type: ignore[no-untyped-def]
    return Visit(vid, spot(k), minutes(service), (window(start, end),), **extra)


def shift(mid: str, k: int, **extra) -> Shift:  # type: ignore[no-untyped-def]
    extra.setdefault("window", window("08:00", "17:00"))
    return Shift(mid, spot(k), spot(k), **extra)


def repair_for(visits: list[Visit], shifts: list[Shift], positions: list[float]) -> Repair:
    return Repair(compile_problem(Problem(visits, shifts, line_matrix(positions)), QUICK))


def test_feasible_routes_drop_the_least_valuable_visit_that_does_not_fit() -> None:
    """Both need 10:00 for an hour; one medic: the priority-1 visit goes, the priority-3 one stays."""
    repair = repair_for(
        [visit("low", 1, "10:00", "10:00", 60), visit("high", 2, "10:00", "10:00", 60, priority=3)],
        [shift("m", 0)],
        [0, 1, 2],
    )
    # nodes: 0 is home, 1 is "low", 2 is "high"
    assert repair.feasible([[1, 2]]) == [[2]]


def test_feasible_routes_keep_a_visit_only_on_its_first_route_and_only_for_allowed_medics() -> None:
    """A visit listed twice keeps its first place; a medic not allowed loses it."""
    repair = repair_for(
        [visit("a", 2), visit("b", 3, allowed_medics=frozenset({"west"}))],
        [shift("west", 0), shift("east", 1)],
        [0, 10, 1, 9],
    )
    # nodes: 0 west's home, 1 east's home, 2 is "a", 3 is "b"
    assert repair.feasible([[2], [2, 3]]) == [[2], []]


def test_fill_gives_an_idle_medic_the_visit_only_they_can_serve() -> None:
    """A seed that left the east medic idle and 'e' out: filling puts 'e' on the east medic's day."""
    repair = repair_for(
        [visit("w", 2), visit("e", 3, allowed_medics=frozenset({"east"}))],
        [shift("west", 0), shift("east", 1)],
        [0, 10, 1, 9],
    )
    filled, finished = repair.fill([[2], []])
    assert finished
    assert filled == [[2], [3]]


def test_fill_inserts_a_visit_where_it_adds_the_least_driving() -> None:
    """Home at 0, visits at 2 and 6: the visit at 4 goes between them (no extra driving at all)."""
    repair = repair_for([visit("a", 1), visit("b", 2), visit("c", 3)], [shift("m", 0)], [0, 2, 6, 4])
    filled, _ = repair.fill([[1, 2]])
    assert filled == [[1, 3, 2]]


def test_seed_price_equals_the_objective_ortools_gives_the_same_plan() -> None:
    """Driving, overtime and penalties priced in Python match OR-Tools' objective for the restored plan."""
    lunch = Break(minutes(30), window("12:00", "13:00"))
    problem = Problem(
        [visit("a", 2, "16:30", "16:30", 60), visit("b", 3, "09:00", "10:00"), visit("far", 4, "08:00", "08:05")],
        [shift("m", 0, hard_end=window("18:00", "18:00").start, breaks=(lunch,)), shift("n", 1)],
        line_matrix([0, 10, 5, 3, 60]),
    )
    c = compile_problem(problem, QUICK)
    repair = Repair(c)
    seed = repair.seed("test", [[], []])
    found = build(c, seed.routes, seed.breaks, "test")
    assert found is not None
    assert found.objective == seed.cost
    assert found.node_routes == seed.routes


def test_build_refuses_a_plan_that_breaks_a_rule() -> None:
    """OR-Tools restores only what is feasible: two fixed 10:00 visits on one day are refused."""
    problem = Problem(
        [visit("a", 1, "10:00", "10:00", 60), visit("b", 2, "10:00", "10:00", 60)],
        [shift("m", 0)],
        line_matrix([0, 1, 2]),
    )
    c = compile_problem(problem, QUICK)
    assert build(c, [[1, 2]], [[]], "two at once") is None
    assert build(c, [[1]], [[]], "one") is not None


def test_lns_moves_a_visit_to_make_room_for_one_only_one_medic_can_serve() -> None:
    """'x' (anyone) blocks west's only slot for 'y' (west only); ruin and recreate moves 'x' east and serves 'y'."""
    problem = Problem(
        [visit("x", 2, "10:00", "10:00", 60), visit("y", 3, "10:00", "10:00", 60, allowed_medics=frozenset({"west"}))],
        [shift("west", 0), shift("east", 1)],
        line_matrix([0, 4, 2, 1]),
    )
    c = compile_problem(problem, QUICK)
    repair = Repair(c)
    routes, kept = Lns(c, repair, seed=1).run([[2], []], deadline=float("inf"), max_moves=50)
    assert kept >= 1
    assert sorted(node for route in routes for node in route) == [2, 3]
    assert routes[0] == [3] and routes[1] == [2]
    assert all(repair.timer.feasible(v, route) for v, route in enumerate(routes) if route)


def test_lns_keeps_every_route_feasible_and_never_raises_the_price() -> None:
    """From a wasteful plan (each medic serves the visits near the other's home), the price only drops."""
    problem = Problem(
        [visit("w1", 2), visit("w2", 3), visit("e1", 4), visit("e2", 5)],
        [shift("west", 0), shift("east", 1)],
        line_matrix([0, 10, 1, 2, 8, 9]),
    )
    c = compile_problem(problem, QUICK)
    repair = Repair(c)
    before = repair.priced("swapped", [[4, 5], [2, 3]])
    routes, _ = Lns(c, repair, seed=3).run(before.routes, deadline=float("inf"), max_moves=100)
    after = repair.priced("after", routes)
    assert after.cost < before.cost
    assert sorted(map(sorted, routes)) == [[2, 3], [4, 5]]

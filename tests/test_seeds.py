"""The seed searches get the problem they should (routing.vroom_seed, routing.pyvrp_seed).

Real VROOM and real PyVRP on tiny days along a straight road (1 min per km). Their plans
only seed OR-Tools; here they are checked on their own terms: who may serve what, and the
relaxation PyVRP is given in place of breaks.
"""

from __future__ import annotations

from routing import Break, Problem, Shift, Visit
from routing.compiled import compile_problem
from routing.pyvrp_seed import relaxed_data, seed_routes
from routing.schedule import RouteTimer
from routing.vroom_seed import seed_routes as vroom_routes
from tests.helpers import QUICK, line_matrix, minutes, spot, window

LUNCH = Break(minutes(30), window("12:00", "13:00"))


def visit(vid: str, k: int, start: str = "08:00", end: str = "17:00", service: float = 30, **extra) -> Visit:  # type: ignore[no-untyped-def]
    return Visit(vid, spot(k), minutes(service), (window(start, end),), **extra)


def two_medics() -> Problem:
    """West (home at 0) and east (home at 10); 'nad' may go to east only."""
    return Problem(
        [visit("w", 2), visit("nad", 3, allowed_medics=frozenset({"east"}))],
        [
            Shift("west", spot(0), spot(0), window("08:00", "17:00"), breaks=(LUNCH,)),
            Shift("east", spot(1), spot(1), window("08:00", "17:00"), breaks=(LUNCH,)),
        ],
        line_matrix([0, 10, 1, 2]),
    )


def test_vroom_seed_serves_each_visit_with_an_allowed_medic_and_its_breaks() -> None:
    """VROOM serves both; the NAD+ visit goes east although it is nearer west's home; every route times
    exactly with its lunch."""
    c = compile_problem(two_medics(), QUICK)
    routes = vroom_routes(c, level=5, threads=1)
    # nodes: 0 west's home, 1 east's home, 2 is "w", 3 is "nad"
    assert 3 in routes[1]
    assert sorted(node for route in routes for node in route) == [2, 3]
    timer = RouteTimer(c)
    assert all(timer.feasible(v, route) for v, route in enumerate(routes) if route)


def test_pyvrp_relaxation_moves_shift_ends_earlier_by_the_breaks() -> None:
    """With break_share 1, a shift of 08:00-17:00 with a 30-minute lunch ends at 16:30 for PyVRP."""
    c = compile_problem(two_medics(), QUICK)
    data, _, members = relaxed_data(c, break_share=1.0)
    for kind, vehicles in zip(data.vehicle_types(), members, strict=True):
        (vehicle,) = vehicles
        assert kind.tw_late == c.hard_end[vehicle] - 30 * 60
        assert kind.start_late == kind.tw_early == c.shift_start[vehicle]
    untouched, _, _ = relaxed_data(c, break_share=0.0)
    assert [k.tw_late for k in untouched.vehicle_types()] == c.hard_end


def test_pyvrp_relaxation_bars_a_medic_from_visits_they_may_not_serve() -> None:
    """West's profile prices the NAD+ visit out of reach; PyVRP's plan gives it to east."""
    c = compile_problem(two_medics(), QUICK)
    data, client_node, members = relaxed_data(c)
    west = next(k for k, vehicles in enumerate(members) if vehicles == [0])
    profile = data.vehicle_types()[west].profile
    nad_location = data.clients()[client_node.index(3)].location
    assert data.distance_matrix(profile)[0, nad_location] >= 10**12
    routes = seed_routes(c, seconds=1.0, iterations=200)
    assert 3 in routes[1]


def test_pyvrp_relaxation_makes_a_visit_with_two_windows_two_clients_of_one_group() -> None:
    """A visit offered 09:00-10:00 or 14:00-15:00 is two optional clients, at most one of which is served."""
    problem = Problem(
        [Visit("v", spot(1), minutes(30), (window("09:00", "10:00"), window("14:00", "15:00")))],
        [Shift("m", spot(0), spot(0), window("08:00", "17:00"))],
        line_matrix([0, 1]),
    )
    c = compile_problem(problem, QUICK)
    data, client_node, _ = relaxed_data(c)
    assert client_node == [1, 1]
    (group,) = data.groups()
    assert list(group.clients) == [0, 1]
    assert not group.required
    assert seed_routes(c, seconds=1.0, iterations=100) == [[1]]

"""PyVRP and VROOM on a Solomon instance, fed the same integer data as Dripline.

Both get ``ceil(euclid * 1000)`` as distance and duration, service and ready times rounded up and
due dates rounded down (see :mod:`bench.solomon`); both return routes of customer numbers, which
:mod:`bench.solomon` re-checks and measures in double precision. Needs the ``bench`` extra.
"""

from __future__ import annotations

from typing import Any

from bench.solomon_instances import SCALE, Routes, SolomonInstance, scale_down, scale_up, scaled_matrix


def _pyvrp_model(instance: SolomonInstance) -> Any:
    import pyvrp

    matrix = scaled_matrix(instance, SCALE)
    ready, due = scale_up(instance.ready, SCALE), scale_down(instance.due, SCALE)
    service = scale_up(instance.service, SCALE)
    model = pyvrp.Model()
    locations = [model.add_location(x=float(x), y=float(y)) for x, y in instance.coords]
    model.add_depot(locations[0], tw_early=int(ready[0]), tw_late=int(due[0]))
    for i in range(1, instance.customers + 1):
        model.add_client(
            locations[i],
            delivery=int(instance.demand[i]),
            service_duration=int(service[i]),
            tw_early=int(ready[i]),
            tw_late=int(due[i]),
            name=str(i),
        )
    model.add_vehicle_type(instance.vehicles, capacity=instance.capacity, tw_early=int(ready[0]), tw_late=int(due[0]))
    for i, frm in enumerate(locations):
        for j, to in enumerate(locations):
            if i != j:
                model.add_edge(frm, to, distance=int(matrix[i, j]), duration=int(matrix[i, j]))
    return model


def solve_pyvrp(instance: SolomonInstance, time_limit: float) -> tuple[Routes, dict[str, Any]]:
    """PyVRP's default ILS for ``time_limit`` seconds, distance-only, seed 0."""
    from pyvrp.stop import MaxRuntime

    result = _pyvrp_model(instance).solve(MaxRuntime(time_limit), seed=0, collect_stats=False, display=False)
    # a client activity's idx is the client's index, and client k is customer k + 1
    routes = [[activity.idx + 1 for activity in route if activity.is_client()] for route in result.best.routes()]
    return routes, {"solver_feasible": bool(result.is_feasible()), "iterations": result.num_iterations}


def _vroom_input(instance: SolomonInstance) -> Any:
    import vroom

    ready, due = scale_up(instance.ready, SCALE), scale_down(instance.due, SCALE)
    service = scale_up(instance.service, SCALE)
    problem = vroom.Input()
    problem.set_durations_matrix("car", scaled_matrix(instance, SCALE))
    window = vroom.TimeWindow(int(ready[0]), int(due[0]))
    for k in range(1, instance.vehicles + 1):
        problem.add_vehicle(vroom.Vehicle(k, start=0, end=0, capacity=[instance.capacity], time_window=window))
    for i in range(1, instance.customers + 1):
        problem.add_job(
            vroom.Job(
                i,
                location=i,
                default_service=int(service[i]),
                delivery=vroom.Amount([int(instance.demand[i])]),
                time_windows=[vroom.TimeWindow(int(ready[i]), int(due[i]))],
            )
        )
    return problem


def solve_vroom(instance: SolomonInstance, time_limit: float) -> tuple[Routes, dict[str, Any]]:
    """VROOM at exploration level 5 on one thread; it has no time limit, so ``time_limit`` is unused."""
    del time_limit
    solution = _vroom_input(instance).solve(exploration_level=5, nb_threads=1).to_dict()
    routes = [[int(step["id"]) for step in route["steps"] if step["type"] == "job"] for route in solution["routes"]]
    return routes, {"unassigned": len(solution.get("unassigned", []))}

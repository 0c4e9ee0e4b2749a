"""VROOM and PyVRP on a Dripline day, their answers turned into :class:`routing.Result`.

Both get the day's :class:`routing.Problem` through the same compiled tables Dripline
searches on (:mod:`routing.compiled`), so the matrix, service and setup durations,
windows, who may serve what, stock and max visits are the very same numbers:

* VROOM gets everything it can express (:func:`routing.vroom_seed.vroom_input`): breaks
  included, each shift up to its hard end. It has no soft end, preferred medics or balance.
* PyVRP gets :func:`routing.pyvrp_seed.relaxed_data` with ``break_share=0``: it cannot
  express breaks, so it has to drop them, and it drops preferred medics and balance too.
  The checker then reports the breaks its routes do not take.
* Neither knows group bookings: both get each group one medic can serve as one job, its
  parts back to back (:func:`routing.compiled.seed_jobs`), and lack the groups only
  several medics together could serve.

Each answer is timed through :func:`routing.replay.timed_route` from the solver's own
decisions (order, service starts, break starts, departure, return), so
:func:`routing.check.check` judges it exactly as it judges Dripline's plans.
"""

from __future__ import annotations

import time
from typing import Any

import pyvrp
from pyvrp.stop import MaxRuntime

from routing import Problem, Result
from routing.compiled import Compiled, seed_jobs
from routing.explain import Placed, explain
from routing.pyvrp_seed import relaxed_data
from routing.replay import timed_route
from routing.vroom_seed import solve_vroom

PYVRP_DROPS = "breaks, preferred medics, balance, groups shared by two medics"
VROOM_DROPS = "soft shift ends (overtime cost), preferred medics, balance, groups shared by two medics"


def _result(problem: Problem, c: Compiled, routes: list[Any], runtime: float, objective: int, strategy: str) -> Result:
    """The peer's routes as a Result, its visits left out explained against its own plan."""
    served = {stop.visit_id for route in routes for stop in route.stops}
    left_out = [visit.id for visit in problem.visits if visit.id not in served]
    node_of = {problem.visits[c.visit_of_node[n]].id: n for n in range(c.depot_count, len(c.node_location))}
    vehicle_of = {shift.medic_id: v for v, shift in enumerate(problem.shifts)}
    nodes: list[list[int]] = [[] for _ in problem.shifts]
    for route in routes:
        nodes[vehicle_of[route.medic_id]] = [node_of[stop.visit_id] for stop in route.stops]
    return Result(tuple(routes), explain(problem, left_out, Placed(c, nodes)), objective, runtime, strategy)


def run_vroom(problem: Problem, c: Compiled, *, threads: int, level: int = 5) -> Result:
    """VROOM at ``level`` on ``threads`` threads, untimed: it stops when its search is done."""
    began = time.perf_counter()
    answer = solve_vroom(c, level=level, threads=threads)
    runtime = time.perf_counter() - began
    jobs = {job.head: job for job in seed_jobs(c)}
    routes = []
    for route in answer["routes"]:
        vehicle = int(route["vehicle"]) - 1
        steps = route["steps"]
        starts, breaks = [], []
        for step in steps:
            begins = int(step["arrival"]) + int(step.get("waiting_time", 0))
            if step["type"] == "job":
                job = jobs[int(step["id"])]
                starts += [
                    (problem.visits[c.visit_of_node[node]].id, begins + offset)
                    for node, offset in zip(job.members, job.offsets, strict=True)
                ]
            elif step["type"] == "break":
                breaks.append((begins, int(step["service"])))
        if not starts:
            continue
        departure = int(steps[0]["arrival"])
        home = int(steps[-1]["arrival"])
        routes.append(timed_route(problem, problem.shifts[vehicle].medic_id, departure, starts, breaks, home))
    cost = int(answer.get("summary", {}).get("cost", 0))
    return _result(problem, c, routes, runtime, cost, f"vroom level {level} on {threads} thread(s)")


def run_pyvrp(problem: Problem, c: Compiled, *, seconds: float, seed: int = 0) -> Result:
    """PyVRP's iterated local search for ``seconds`` on the day less what it cannot express."""
    began = time.perf_counter()
    data, client_node, members = relaxed_data(c, break_share=0.0)
    jobs = {job.head: job for job in seed_jobs(c)}
    answer = pyvrp.solve(data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
    runtime = time.perf_counter() - began
    routes = []
    handed = [0] * len(members)
    if answer.best.is_feasible():
        for route in answer.best.routes():
            kind = route.vehicle_type()
            vehicle = members[kind][handed[kind]]
            handed[kind] += 1
            starts = [
                (problem.visits[c.visit_of_node[node]].id, int(a.start_time) + offset)
                for a in route.schedule()
                if a.is_client()
                for node, offset in zip(jobs[client_node[a.idx]].members, jobs[client_node[a.idx]].offsets, strict=True)
            ]
            if starts:
                routes.append(
                    timed_route(
                        problem,
                        problem.shifts[vehicle].medic_id,
                        int(route.start_time()),
                        starts,
                        [],
                        int(route.end_time()),
                    )
                )
    return _result(problem, c, routes, runtime, int(answer.cost()), "pyvrp (no breaks)")

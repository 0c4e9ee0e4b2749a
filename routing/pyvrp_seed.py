"""Seed plans from PyVRP's iterated local search, on a relaxed copy of the problem.

PyVRP (MIT) is a strong search for time-windowed routing, but it cannot express every
rule of a Dripline day, so it gets a relaxation of it and only ever *seeds* OR-Tools,
which then builds and returns the plan with every rule:

* **breaks** are left out; each shift's soft and hard end move earlier by the time
  its breaks take (``break_share`` of it), so that a seed route leaves room for them.
  :mod:`routing.schedule` then places the breaks exactly and repairs what does not fit;
* **preferred medics** and **balance** are left out (they only break ties in our objective);
* a visit with **two windows** is two clients in a mutually exclusive group;
* a **group booking** is one client, its parts back to back on one medic's day
  (:func:`routing.compiled.groups_as_one`); a group only several medics could serve
  together is left to the repair;
* **who may serve** a visit is a routing profile per class of medic, with an
  unaffordable distance to and from the visits that class may not serve (PyVRP's own
  reader does the same for ``vehicles_allowed_clients``);
* **setup** is part of the drive into a visit from another place, **stock** and
  **max_visits** are load dimensions, and a visit left out forfeits a prize worth far
  more than any detour (times its priority).

This is the only module that imports ``pyvrp``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np
import pyvrp
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from routing.compiled import Compiled, expand_groups, groups_as_one, seed_jobs

#: a distance PyVRP can hold that no prize can pay for (pyvrp.constants.MAX_VALUE)
_FORBIDDEN = int(pyvrp.constants.MAX_VALUE)


class _Kind(NamedTuple):
    """What makes two vehicles the same to PyVRP."""

    start_depot: int
    end_depot: int
    start: int
    soft_end: int
    hard_end: int
    overtime: int
    capacity: tuple[int, ...]
    profile: int


def relaxed_data(c: Compiled, break_share: float = 1.0) -> tuple[pyvrp.ProblemData, list[int], list[list[int]]]:
    """PyVRP's problem, which client stands for which node, and which vehicles each vehicle type stands for."""
    nodes = len(c.node_location)
    drive = np.asarray(c.arc_costs, dtype=np.int64)
    service = np.asarray(c.service, dtype=np.int64)
    travel = np.asarray(c.transit, dtype=np.int64) - service[:, None]  # drive plus the setup into j
    np.fill_diagonal(travel, 0)
    np.fill_diagonal(drive, 0)
    locations = [pyvrp.Location(x=float(n), y=0.0) for n in range(nodes)]
    depots = [pyvrp.Depot(location=n) for n in range(c.depot_count)]
    # the biggest detour a visit can cost: out and back across the whole day's map
    prize_unit = int(4 * max(1, int(drive.max())) + 1)
    clients: list[pyvrp.Client] = []
    groups: list[pyvrp.ClientGroup] = []
    client_node: list[int] = []
    kinds = sorted(c.demand)
    lowest = min((p for p in c.penalty if p > 0), default=1)
    jobs = seed_jobs(c)
    for job in jobs:
        node = job.head
        delivery = [int(job.demand[kind]) for kind in kinds] + [len(job.members)]
        prize = max(1, round(prize_unit * job.penalty / lowest))
        windows = job.windows
        group = None
        if len(windows) > 1:
            group = len(groups)
            groups.append(
                pyvrp.ClientGroup(clients=list(range(len(clients), len(clients) + len(windows))), required=False)
            )
        for opens, closes in windows:
            clients.append(
                pyvrp.Client(
                    location=node,
                    delivery=delivery,
                    service_duration=int(job.service),
                    tw_early=int(opens),
                    tw_late=int(closes),
                    prize=prize,
                    required=False,
                    group=group,
                )
            )
            client_node.append(node)

    # one profile per class of medic that may serve the same visits; profile 0 allows all
    vehicles = len(c.starts)
    may_serve = np.zeros((vehicles, nodes), dtype=bool)
    may_serve[:, : c.depot_count] = True
    for job in jobs:
        may_serve[list(job.allowed), job.head] = True
    profile_of: dict[bytes, int] = {np.ones(nodes, dtype=bool).tobytes(): 0}
    distance_matrices = [drive]
    for vehicle in range(vehicles):
        key = may_serve[vehicle].tobytes()
        if key not in profile_of:
            profile_of[key] = len(distance_matrices)
            matrix = drive.copy()
            barred = ~may_serve[vehicle]
            matrix[:, barred] = _FORBIDDEN
            matrix[barred, :] = _FORBIDDEN
            np.fill_diagonal(matrix, 0)
            distance_matrices.append(matrix)
    duration_matrices = [travel] * len(distance_matrices)

    # vehicles that are the same in every respect share one vehicle type
    types: dict[_Kind, list[int]] = {}
    for vehicle in range(vehicles):
        taken = round(break_share * sum(duration for _, _, duration in c.breaks[vehicle]))
        start = c.shift_start[vehicle]
        soft = max(start, c.soft_end[vehicle] - taken)
        kind_of_vehicle = _Kind(
            start_depot=c.starts[vehicle],
            end_depot=c.ends[vehicle],
            start=start,
            soft_end=soft,
            hard_end=max(soft, c.hard_end[vehicle] - taken),
            overtime=c.overtime_coef[vehicle],
            capacity=(*(c.stock[kind][vehicle] for kind in kinds), c.max_visits[vehicle]),
            profile=profile_of[may_serve[vehicle].tobytes()],
        )
        types.setdefault(kind_of_vehicle, []).append(vehicle)
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=len(members),
            capacity=list(kind.capacity),
            start_depot=kind.start_depot,
            end_depot=kind.end_depot,
            tw_early=kind.start,
            # leave at the shift start, so that the route's duration is its clock:
            # overtime then runs from the soft end, as in Dripline
            start_late=kind.start,
            tw_late=kind.hard_end,
            shift_duration=kind.soft_end - kind.start,
            max_overtime=kind.hard_end - kind.soft_end,
            unit_overtime_cost=kind.overtime,
            profile=kind.profile,
        )
        for kind, members in types.items()
    ]
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=cast(list[Any], distance_matrices),
        duration_matrices=cast(list[Any], duration_matrices),
        groups=groups,
    )
    return data, client_node, list(types.values())


def seed_routes(
    c: Compiled,
    *,
    seconds: float,
    iterations: int | None = None,
    seed: int = 0,
    break_share: float = 1.0,
) -> list[list[int]]:
    """PyVRP's best plan of the relaxed problem, as compiled nodes per vehicle.

    Stops after ``seconds``, or after ``iterations`` if that comes first (a work limit
    makes the run repeatable). Vehicles of one type get that type's routes in order.
    """
    data, client_node, members = relaxed_data(c, break_share)
    stop: StoppingCriterion = MaxRuntime(max(0.05, seconds))
    if iterations is not None:
        stop = MultipleCriteria([MaxIterations(iterations), stop])
    result = pyvrp.solve(data, stop, seed=seed, collect_stats=False, display=False)
    routes: list[list[int]] = [[] for _ in c.starts]
    if not result.best.is_feasible():
        return routes
    handed = [0] * len(members)
    for route in result.best.routes():
        kind = route.vehicle_type()
        vehicle = members[kind][handed[kind]]
        handed[kind] += 1
        routes[vehicle] = [client_node[a.idx] for a in route if a.is_client()]
    return expand_groups(routes, groups_as_one(c))

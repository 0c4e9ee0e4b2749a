"""A :class:`~routing.model.Problem` as plain integer tables, the form every search works on.

Seconds from :attr:`Problem.origin`; one node per depot (a shift's start or end place), then
one per visit that some medic could serve alone. The tables pickle cheaply to worker
processes, and the OR-Tools model, the relaxed seed search and the route timing all read
the same ones, so they agree on every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.feasibility import servable_by
from routing.model import Problem, Shift, Visit, seconds_between
from routing.params import SolveParams


@dataclass(frozen=True)
class Compiled:
    """The problem as integer tables. Nodes ``0..depots-1`` are depots, then one
    node per schedulable visit (``visit_of_node``)."""

    depot_count: int
    node_location: list[int]
    visit_of_node: list[int]  # problem visit position per node; -1 for depots
    starts: list[int]
    ends: list[int]
    transit: list[list[int]]  # service of i + drive i->j + setup of j
    arc_costs: list[list[int]]  # drive i->j, the same for every medic
    #: per class of medic, the cost of serving each node (a visit that prefers someone else)
    preference_costs: list[list[int]]
    preference_class_of_vehicle: list[int]
    service: list[int]
    windows: list[list[tuple[int, int]]]
    allowed: list[list[int]]
    penalty: list[int]
    demand: dict[str, list[int]]
    stock: dict[str, list[int]]
    max_visits: list[int]
    shift_start: list[int]
    soft_end: list[int]
    hard_end: list[int]
    overtime_coef: list[int]
    breaks: list[list[tuple[int, int, int]]]  # (earliest start, latest start, duration)
    horizon: int
    balance_cost: int


def compile_problem(problem: Problem, params: SolveParams) -> Compiled:
    """Turn the problem into integer tables for the routing model."""
    origin = problem.origin
    durations = problem.matrix.durations
    shifts = problem.shifts
    depot_locations: dict[int, int] = {}
    for shift in shifts:
        for loc in (shift.start_location, shift.end_location):
            depot_locations.setdefault(problem.location_index(loc), len(depot_locations))
    node_location = list(depot_locations)
    visit_of_node = [-1] * len(node_location)
    allowed: list[list[int]] = [[] for _ in node_location]
    vehicle_of = {s.medic_id: v for v, s in enumerate(shifts)}
    for position, visit in enumerate(problem.visits):
        able = [vehicle_of[s.medic_id] for s in servable_by(problem, visit)]
        if able:  # an empty list would mean "any vehicle" to OR-Tools
            node_location.append(problem.location_index(visit.location))
            visit_of_node.append(position)
            allowed.append(able)
    size = len(node_location)
    visits: list[Visit | None] = [problem.visits[p] if p >= 0 else None for p in visit_of_node]
    service = [int(v.service.total_seconds()) if v else 0 for v in visits]
    setup = [int(v.setup.total_seconds()) if v else 0 for v in visits]
    where = np.asarray(node_location)
    drive = durations[np.ix_(where, where)]
    # Setup is paid on arriving from somewhere else, so a group at one address sets up once.
    moved = where[:, None] != where[None, :]
    transit = np.asarray(service)[:, None] + drive + moved * np.asarray(setup)[None, :]
    preference_costs, preference_class_of_vehicle = _preference_classes(shifts, visits, params.preference_cost)
    horizon = max(seconds_between(origin, s.latest_end) for s in shifts)
    windows = []
    for maybe in visits:
        if maybe is None:
            windows.append([(0, horizon)])
            continue
        clipped = [
            (max(0, seconds_between(origin, w.start)), min(horizon, seconds_between(origin, w.end)))
            for w in maybe.windows
        ]
        kept = [(a, b) for a, b in clipped if a <= b]
        # servable_by() admitted this visit, so some window meets some shift
        assert kept, "a schedulable visit lost every window to clipping"
        windows.append(kept)
    kinds = problem.supply_kinds
    penalty = [
        0 if v is None else (params.optional_penalty if v.optional else params.unassigned_penalty) * v.priority
        for v in visits
    ]
    return Compiled(
        depot_count=len(depot_locations),
        node_location=node_location,
        visit_of_node=visit_of_node,
        starts=[depot_locations[problem.location_index(s.start_location)] for s in shifts],
        ends=[depot_locations[problem.location_index(s.end_location)] for s in shifts],
        transit=transit.tolist(),
        arc_costs=drive.tolist(),
        preference_costs=preference_costs,
        preference_class_of_vehicle=preference_class_of_vehicle,
        service=service,
        windows=windows,
        allowed=allowed,
        penalty=penalty,
        demand={k: [v.demand.get(k, 0) if v else 0 for v in visits] for k in kinds},
        stock={k: [s.stock.get(k, 0) for s in shifts] for k in kinds},
        max_visits=[size if s.max_visits is None else s.max_visits for s in shifts],
        shift_start=[seconds_between(origin, s.window.start) for s in shifts],
        soft_end=[seconds_between(origin, s.window.end) for s in shifts],
        hard_end=[seconds_between(origin, s.latest_end) for s in shifts],
        overtime_coef=[s.overtime_cost_per_minute for s in shifts],
        breaks=[
            [
                (
                    seconds_between(origin, b.window.start),
                    seconds_between(origin, b.window.end),
                    int(b.duration.total_seconds()),
                )
                for b in s.breaks
            ]
            for s in shifts
        ],
        horizon=horizon,
        balance_cost=params.balance_cost,
    )


def _preference_classes(
    shifts: Sequence[Shift], visits: Sequence[Visit | None], preference_cost: int
) -> tuple[list[list[int]], list[int]]:
    """Per class of medic, a node vector: ``preference_cost`` on each visit that
    prefers someone else. Medics who share the same set share one vector; a
    vector per class costs O(n), where a cost matrix per class cost O(n^2)."""
    classes: dict[frozenset[int], int] = {}
    vectors: list[list[int]] = []
    class_of_vehicle = []
    for shift in shifts:
        unpreferred = frozenset(
            node
            for node, visit in enumerate(visits)
            if preference_cost and visit is not None and visit.preferred_medics
            and shift.medic_id not in visit.preferred_medics
        )  # fmt: skip
        if unpreferred not in classes:
            classes[unpreferred] = len(vectors)
            vectors.append([preference_cost if node in unpreferred else 0 for node in range(len(visits))])
        class_of_vehicle.append(classes[unpreferred])
    return vectors, class_of_vehicle

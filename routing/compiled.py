"""A :class:`~routing.model.Problem` as plain integer tables, the form every search works on.

Seconds from :attr:`Problem.origin`; one node per depot (a shift's start or end place), then
one per visit that some medic could serve alone. The tables pickle cheaply to worker
processes, and the OR-Tools model, the relaxed seed search and the route timing all read
the same ones, so they agree on every number.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    rank: list[int]
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
    #: each group's nodes (served all or none), and the most their starts may lie apart when
    #: different vehicles serve them
    groups: list[list[int]] = field(default_factory=list)
    group_arrival: int = 600

    @property
    def group_of(self) -> dict[int, int]:
        """The group index of each node that belongs to one."""
        return {node: k for k, members in enumerate(self.groups) for node in members}


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
    able_of = {visit.id: [vehicle_of[s.medic_id] for s in servable_by(problem, visit)] for visit in problem.visits}
    # a group is served whole or not at all: one part nobody can serve keeps every part out
    for members in problem.groups.values():
        if not all(able_of[member.id] for member in members):
            for member in members:
                able_of[member.id] = []
    for position, visit in enumerate(problem.visits):
        able = able_of[visit.id]
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
    # every patient turned away costs the same: a group part of three weighs three home visits
    penalty = [
        0
        if v is None
        else (params.optional_penalty if v.optional else params.unassigned_penalty) * v.priority * v.patients
        for v in visits
    ]
    # what "higher priority" means when a visit displaces another: mandatory before optional, then priority
    rank = [0 if v is None else v.priority + (0 if v.optional else 10) for v in visits]
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
        rank=rank,
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
        groups=_groups(problem, visit_of_node),
        group_arrival=int(problem.group_arrival.total_seconds()),
    )


def _groups(problem: Problem, visit_of_node: list[int]) -> list[list[int]]:
    """The nodes of each group of schedulable visits (a group with two or more of them)."""
    node_of = {problem.visits[position].id: node for node, position in enumerate(visit_of_node) if position >= 0}
    found: list[list[int]] = []
    for members in problem.groups.values():
        nodes = [node_of[member.id] for member in members if member.id in node_of]
        if len(nodes) > 1:
            found.append(nodes)
    return found


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


@dataclass(frozen=True)
class GroupAsOne:
    """A group's parts as one job for a search that knows no groups: back to back on one
    medic's day, from its first part (``head``) on. ``service`` runs from the first part's
    start to the last part's end; ``windows`` are the first part's start times that let
    every part start inside its own window."""

    head: int
    members: tuple[int, ...]
    #: when each part starts, after the first one
    offsets: tuple[int, ...]
    service: int
    windows: tuple[tuple[int, int], ...]
    allowed: tuple[int, ...]
    penalty: int
    demand: dict[str, int]


def groups_as_one(c: Compiled) -> list[GroupAsOne]:
    """Each group that one medic can serve back to back; a group that only several medics
    together could serve inside its windows is left to the repair (it is not here)."""
    merged = []
    for members in c.groups:
        allowed = sorted(set.intersection(*(set(c.allowed[n]) for n in members)))
        # the k-th part starts this long after the first one
        offsets = [0]
        for a, b in itertools.pairwise(members):
            offsets.append(offsets[-1] + c.transit[a][b])
        windows: list[tuple[int, int]] | None = None
        for node, offset in zip(members, offsets, strict=True):
            shifted = [(opens - offset, closes - offset) for opens, closes in c.windows[node]]
            windows = shifted if windows is None else _intersect(windows, shifted)
        if not allowed or not windows:
            continue
        merged.append(
            GroupAsOne(
                head=members[0],
                members=tuple(members),
                offsets=tuple(offsets),
                service=offsets[-1] + c.service[members[-1]],
                windows=tuple(windows),
                allowed=tuple(allowed),
                penalty=sum(c.penalty[n] for n in members),
                demand={kind: sum(demand[n] for n in members) for kind, demand in c.demand.items()},
            )
        )
    return merged


def _intersect(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    cut = [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b]
    return sorted((lo, hi) for lo, hi in cut if lo <= hi)


def expand_groups(routes: Sequence[Sequence[int]], merged: Sequence[GroupAsOne]) -> list[list[int]]:
    """Routes of a search that saw each group as one job, with every group's parts back in place."""
    members_of = {group.head: group.members for group in merged}
    return [[node for head in route for node in members_of.get(head, (head,))] for route in routes]


def seed_jobs(c: Compiled) -> list[GroupAsOne]:
    """The jobs a search that knows no groups is given: each visit outside a group alone, and each
    group one medic can serve as one job (its other parts are not jobs of their own)."""
    merged = groups_as_one(c)
    grouped = {node for members in c.groups for node in members}
    singles = [
        GroupAsOne(
            head=node,
            members=(node,),
            offsets=(0,),
            service=c.service[node],
            windows=tuple(c.windows[node]),
            allowed=tuple(c.allowed[node]),
            penalty=c.penalty[node],
            demand={kind: demand[node] for kind, demand in c.demand.items()},
        )
        for node in range(c.depot_count, len(c.node_location))
        if node not in grouped and c.allowed[node]
    ]
    return sorted([*singles, *merged], key=lambda job: job.head)

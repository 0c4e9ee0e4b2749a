"""A plan changed by hand: one visit moved to another medic, or to another place in a route.

A dispatcher's move is a decision about order only; the times follow from it. :func:`move_visit`
takes a plan, takes the visit out of wherever it is (a route, or the unassigned list), puts it
at ``position`` in the target medic's route, and times the two routes it touched again at the
earliest moments every rule allows (:class:`~routing.schedule.RouteTimer`, the same timing the
search uses). Every other route is kept exactly as it was.

When no timing honours every rule (the visit cannot start inside its window there, the medic
cannot be home by the hard end, ...) the route is timed as a medic would drive it anyway: the
windows' closing times, the hard end, the stock and who may serve are relaxed, and only
the opening times and the breaks kept. :func:`routing.check.check` then names, in its own words,
each rule that order breaks. Nothing here decides whether a move is allowed: the checker does.
"""

from __future__ import annotations

import dataclasses

from routing.compiled import Compiled, compile_problem
from routing.model import Problem
from routing.params import SolveParams
from routing.replay import timed_route
from routing.result import Result, Route, Unassigned
from routing.schedule import RouteTimer


def move_visit(problem: Problem, result: Result, visit_id: str, medic_id: str, position: int) -> Result:
    """``result`` with ``visit_id`` served by ``medic_id`` as its stop number ``position`` (from 0; past
    the end: last), and the routes it left and joined timed again. A route left empty is dropped."""
    problem.visit(visit_id)  # a KeyError names an unknown visit
    problem.shift(medic_id)  # and an unknown medic
    orders: dict[str, list[str]] = {route.medic_id: list(route.visit_ids) for route in result.routes}
    touched = {medic_id}
    for medic, order in orders.items():
        if visit_id in order:
            order.remove(visit_id)
            touched.add(medic)
    target = orders.setdefault(medic_id, [])
    target.insert(max(0, min(position, len(target))), visit_id)
    timer = _Timer(problem)
    kept = {route.medic_id: route for route in result.routes if route.medic_id not in touched}
    routes: list[Route] = []
    for shift in problem.shifts:  # the problem's order of medics, as the solver returns them
        medic = shift.medic_id
        if medic in kept:
            routes.append(kept[medic])
        elif medic in touched and orders.get(medic):
            routes.append(timer.route(medic, orders[medic]))
    unassigned = tuple(item for item in result.unassigned if item.visit_id != visit_id)
    return Result(tuple(routes), unassigned, result.objective, 0.0, "moved by hand", result.searches)


def unassigned_of(result: Result, visit_id: str) -> Unassigned | None:
    """The entry of ``visit_id`` in the result's unassigned list, if it is there."""
    return next((item for item in result.unassigned if item.visit_id == visit_id), None)


class _Timer:
    """Times one medic's visits in a given order: under every rule if it can, else as driven."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.compiled = compile_problem(problem, SolveParams())
        self.node_of = {problem.visits[v].id: node for node, v in enumerate(self.compiled.visit_of_node) if v >= 0}
        self.vehicle_of = {shift.medic_id: k for k, shift in enumerate(problem.shifts)}
        self.strict = RouteTimer(self.compiled)
        self.relaxed = RouteTimer(_as_driven(self.compiled))
        self.unbroken = RouteTimer(dataclasses.replace(_as_driven(self.compiled), breaks=[[] for _ in problem.shifts]))

    def route(self, medic_id: str, visit_ids: list[str]) -> Route:
        vehicle = self.vehicle_of[medic_id]
        missing = [visit for visit in visit_ids if visit not in self.node_of]
        if missing:
            raise ValueError(f"no medic on shift can serve visit {missing[0]} at all, so it cannot be placed.")
        nodes = [self.node_of[visit] for visit in visit_ids]
        # under every rule; else as driven, breaks kept; else as driven with no breaks (the checker says so)
        timing = (
            self.strict.time(vehicle, nodes) or self.relaxed.time(vehicle, nodes) or self.unbroken.time(vehicle, nodes)
        )
        assert timing is not None, "with every window open and no breaks, any order can be timed"
        starts = list(zip(visit_ids, timing.starts, strict=True))
        return timed_route(self.problem, medic_id, timing.departure, starts, timing.breaks, timing.home)


def _as_driven(c: Compiled) -> Compiled:
    """The tables with every window open until the horizon, no hard end, any medic allowed and no stock
    limit: what a medic could drive, whatever it breaks."""
    everyone = list(range(len(c.starts)))
    endless = max(c.horizon, *c.hard_end) * 4
    return dataclasses.replace(
        c,
        windows=[[(min(opens for opens, _ in windows), endless)] if windows else [] for windows in c.windows],
        hard_end=[endless] * len(c.hard_end),
        allowed=[everyone for _ in c.allowed],
        stock={kind: [10**9] * len(amounts) for kind, amounts in c.stock.items()},
        max_visits=[10**6] * len(c.max_visits),
    )

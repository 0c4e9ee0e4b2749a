"""Why a visit could not be placed, in terms a dispatcher can act on, and true.

First the reasons that hold whatever the plan: nobody with the skills, nobody allowed,
not enough stock, every window outside the shifts, too far to reach (these use the
single-visit test of :mod:`routing.feasibility`, which also decides whom the solver may
try). A visit that some medic could serve on a day of their own is then checked against
the plan itself (:class:`Placed`):

* ``search_time``: it fits into some eligible medic's day as planned; the search ran
  out of time before it could place it;
* ``crowded_out``: it would fit if visits of higher priority were taken off some
  eligible medic's day: they displaced it;
* ``no_room``: no eligible medic's day has room for it in its window(s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from routing.compiled import Compiled
from routing.feasibility import carries_enough, earliest_start_alone, may_serve, overlaps_shift
from routing.model import Problem, Visit
from routing.repair import Repair
from routing.result import Reason, Unassigned


@dataclass(frozen=True)
class Placed:
    """The plan the reasons are checked against: compiled nodes per vehicle, and
    whether filling it ran out of time."""

    c: Compiled
    routes: Sequence[Sequence[int]]
    unfinished: bool = False


def explain(problem: Problem, visit_ids: Iterable[str], placed: Placed | None = None) -> tuple[Unassigned, ...]:
    """A reason for each visit left out of a plan, most fundamental first. The parts of a group
    booking share one reason: the booking is served whole or not at all."""
    context = _Context(problem, placed) if placed is not None else None
    found: dict[str, Unassigned] = {}
    for visit_id in visit_ids:
        visit = problem.visit(visit_id)
        members = problem.groups.get(visit.group, (visit,)) if visit.group is not None else (visit,)
        if visit_id not in found:
            found.update(_explain_unit(problem, members, context))
    return tuple(found[visit_id] for visit_id in visit_ids)


class _Context:
    def __init__(self, problem: Problem, placed: Placed) -> None:
        self.placed = placed
        self.repair = Repair(placed.c)
        c = placed.c
        # a visit no medic could serve alone has no node (the static reasons cover it)
        self.node_of = {problem.visits[c.visit_of_node[n]].id: n for n in range(c.depot_count, len(c.node_location))}

    def medic(self, problem: Problem, vehicle: int) -> str:
        return problem.shifts[vehicle].medic_id


def _explain_unit(problem: Problem, members: Sequence[Visit], context: _Context | None) -> dict[str, Unassigned]:
    """The reason of each part of a group (or of a visit alone)."""
    static = {v.id: _static(problem, v) for v in members}
    blocked = next((item for item in static.values() if item is not None), None)
    if blocked is not None:
        if len(members) == 1:
            return {blocked.visit_id: blocked}
        detail = (
            f"the group booking is served whole or not at all, and its part {blocked.visit_id} cannot be: "
            f"{blocked.detail}"
        )
        return {v.id: Unassigned(v.id, blocked.reason, detail) for v in members}
    if context is None:  # no plan placed it: it fits into an empty day
        return {
            v.id: Unassigned(v.id, Reason.SEARCH_TIME, "feasible on its own; no plan placed it before the search ended")
            for v in members
        }
    reason, detail = _against_the_plan(problem, [context.node_of[v.id] for v in members], context)
    return {v.id: Unassigned(v.id, reason, detail) for v in members}


def _static(problem: Problem, visit: Visit) -> Unassigned | None:
    """The reasons that hold whatever the plan, or None if some medic could serve it alone."""

    def left_out(reason: Reason, detail: str) -> Unassigned:
        return Unassigned(visit.id, reason, detail)

    skilled = [s for s in problem.shifts if visit.skills <= s.skills]
    if not skilled:
        return left_out(Reason.NO_SKILL, f"no medic on shift has every skill of {sorted(visit.skills)}")
    eligible = [s for s in skilled if may_serve(visit, s)]
    if not eligible:
        return left_out(Reason.NO_ELIGIBLE_MEDIC, "none of the medics allowed for this visit is on shift")
    stocked = [s for s in eligible if carries_enough(visit, s)]
    if not stocked:
        short = sorted(k for k, n in visit.demand.items() if all(s.stock.get(k, 0) < n for s in eligible))
        return left_out(Reason.NOT_ENOUGH_STOCK, f"no eligible medic carries enough {', '.join(short)}")
    in_hours = [s for s in stocked if overlaps_shift(visit, s)]
    if not in_hours:
        return left_out(
            Reason.OUTSIDE_SHIFTS, f"every window falls outside the shifts of {len(stocked)} eligible medic(s)"
        )
    if not any(earliest_start_alone(problem, visit, s) is not None for s in in_hours):
        return left_out(
            Reason.UNREACHABLE,
            "no eligible medic can drive there, serve it inside a window and get home by the end of the shift",
        )
    return None


def _against_the_plan(problem: Problem, unit: list[int], context: _Context) -> tuple[Reason, str]:
    c, routes, repair = context.placed.c, context.placed.routes, context.repair
    what = "it" if len(unit) == 1 else f"the whole group ({len(unit)} parts)"
    able = sorted(set().union(*(c.allowed[node] for node in unit)))
    if not repair.place([[] for _ in c.starts], unit, {}):
        return (
            Reason.UNREACHABLE,
            f"no eligible medic can serve {what} inside a window and still take the shift's breaks",
        )
    narrow, _ = repair.sync(routes)
    # a plan filled to the end has no such place (routing.repair.Repair.fill); one cut short may
    if context.placed.unfinished:
        trial = [list(route) for route in routes]
        changed = repair.place(trial, unit, narrow)
        if changed:
            return (
                Reason.SEARCH_TIME,
                f"{what} fits into the day of medic {context.medic(problem, changed[0])} as planned; "
                "the search ran out of time before placing it",
            )
    rank = max(c.rank[node] for node in unit)
    for vehicle in able:
        higher = [n for n in routes[vehicle] if c.rank[n] > rank]
        if not higher:
            continue
        trial = [list(route) for route in routes]
        trial[vehicle] = [n for n in routes[vehicle] if c.rank[n] <= rank]
        if repair.place(trial, unit, narrow):
            return (
                Reason.CROWDED_OUT,
                f"displaced by {len(higher)} higher-priority visit(s) on the day of medic "
                f"{context.medic(problem, vehicle)}",
            )
    return (
        Reason.NO_ROOM,
        f"no eligible medic had room for {what} in its window(s): the days of all {len(able)} are full",
    )

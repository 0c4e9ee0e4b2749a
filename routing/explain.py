"""Why a visit could not be placed, in terms a dispatcher can act on.

The same single-visit test decides which medics the solver may even try for a
visit (:func:`servable_by`), so a visit the solver never considered and a visit
it considered and left out get consistent reasons.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.model import Problem, Shift, Visit, seconds_between, utc
from routing.result import Reason, Unassigned


def may_serve(visit: Visit, shift: Shift) -> bool:
    """Skills and the hard list of allowed medics, ignoring time and stock."""
    if not visit.skills <= shift.skills:
        return False
    if visit.allowed_medics is not None and shift.medic_id not in visit.allowed_medics:
        return False
    return shift.max_visits != 0


def carries_enough(visit: Visit, shift: Shift) -> bool:
    return all(shift.stock.get(kind, 0) >= amount for kind, amount in visit.demand.items())


def overlaps_shift(visit: Visit, shift: Shift) -> bool:
    """Some window of the visit lets the service start inside the shift."""
    return any(utc(w.end) >= utc(shift.window.start) and utc(w.start) <= utc(shift.latest_end) for w in visit.windows)


def earliest_start_alone(problem: Problem, visit: Visit, shift: Shift) -> int | None:
    """Seconds from the origin at which ``shift`` could start ``visit`` if it had
    nothing else to do (leave home at the shift start, drive, set up, wait for a
    window, serve, drive home by the hard end), or None if it never could.
    Breaks are not taken into account."""
    origin = problem.origin
    durations = problem.matrix.durations
    home = problem.location_index(shift.start_location)
    here = problem.location_index(visit.location)
    back = problem.location_index(shift.end_location)
    setup = visit.setup.total_seconds() if here != home else 0
    ready = seconds_between(origin, shift.window.start) + int(durations[home, here]) + int(setup)
    latest_home = seconds_between(origin, shift.latest_end)
    service = int(visit.service.total_seconds())
    for window in visit.windows:
        start = max(ready, seconds_between(origin, window.start))
        if start <= seconds_between(origin, window.end) and start + service + int(durations[here, back]) <= latest_home:
            return start
    return None


def servable_by(problem: Problem, visit: Visit) -> list[Shift]:
    """The shifts that could serve ``visit`` on a route of its own."""
    return [
        shift
        for shift in problem.shifts
        if may_serve(visit, shift)
        and carries_enough(visit, shift)
        and earliest_start_alone(problem, visit, shift) is not None
    ]


def explain(problem: Problem, visit_ids: Iterable[str]) -> tuple[Unassigned, ...]:
    """A reason for each visit left out of a plan, most fundamental first."""
    return tuple(_explain_one(problem, problem.visit(visit_id)) for visit_id in visit_ids)


def _explain_one(problem: Problem, visit: Visit) -> Unassigned:
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
    return left_out(Reason.CROWDED_OUT, "feasible on its own, but displaced by higher-priority work in this plan")

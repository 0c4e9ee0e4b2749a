"""Who could serve a visit on a route of its own: the single-visit test.

The same test decides which medics the solver may even try for a visit
(:func:`servable_by`) and which reason a visit left out gets, so a visit the
solver never considered and a visit it considered and left out are explained alike.
"""

from __future__ import annotations

from routing.model import Problem, Shift, Visit, seconds_between, utc


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

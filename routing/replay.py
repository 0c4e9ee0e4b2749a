"""A :class:`~routing.result.Route` rebuilt from a plan's decisions.

A planner decides, for each medic, the order of the visits, when each service starts,
when the breaks are taken, and when the medic leaves and gets home. Everything else a
route reports (arrivals, waits, ends, travel, distances, KPIs) follows from those
decisions and the problem. :func:`timed_route` derives it in one place, for the
OR-Tools adapter and for the peers the benchmarks compare against.

Times are whole seconds from :attr:`Problem.origin`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from routing.model import Problem, utc
from routing.result import Kpis, PlacedBreak, Route, Stop


def moment(problem: Problem, seconds: int) -> datetime:
    """``seconds`` from the origin as a datetime in the origin's zone (exact across daylight saving)."""
    origin = problem.origin
    return (utc(origin) + timedelta(seconds=seconds)).astimezone(origin.tzinfo)


def timed_route(
    problem: Problem,
    medic_id: str,
    departure: int,
    starts: Sequence[tuple[str, int]],
    breaks: Sequence[tuple[int, int]],
    arrival_home: int,
) -> Route:
    """The route of ``medic_id`` that leaves at ``departure``, starts each visit of
    ``starts`` (visit id, service start) in order, takes ``breaks`` (start, duration)
    and is home at ``arrival_home``.

    Arrivals are just in time: a stop's slack is spent before setting off, which keeps
    the arrival consistent with breaks placed anywhere in the gap before it.
    """
    shift = problem.shift(medic_id)
    durations, distances = problem.matrix.durations, problem.matrix.distances
    soft_end = int((utc(shift.window.end) - utc(problem.origin)).total_seconds())
    placed = sorted(breaks)
    previous_location = problem.location_index(shift.start_location)
    previous_end = departure
    timed: list[Stop] = []
    kpis = Kpis()
    for visit_id, start in starts:
        visit = problem.visit(visit_id)
        location = problem.location_index(visit.location)
        travel = int(durations[previous_location, location])
        resting = sum(d for s, d in placed if s >= previous_end and s + d <= start)
        setup = 0 if location == previous_location else int(visit.setup.total_seconds())
        service = int(visit.service.total_seconds())
        arrival = start - setup
        wait = arrival - previous_end - travel - resting
        stop = Stop(
            visit_id,
            moment(problem, arrival),
            moment(problem, start),
            moment(problem, start + service),
            wait,
            travel,
            int(distances[previous_location, location]),
        )
        timed.append(stop)
        kpis = kpis + Kpis(driving_s=travel, distance_m=stop.distance_m, idle_s=wait, service_s=service)
        previous_location, previous_end = location, start + service
    home = problem.location_index(shift.end_location)
    back_s, back_m = int(durations[previous_location, home]), int(distances[previous_location, home])
    overtime = max(0, arrival_home - soft_end)
    kpis = kpis + Kpis(driving_s=back_s, distance_m=back_m, overtime_s=overtime, visits=len(timed))
    return Route(
        medic_id=medic_id,
        departure=moment(problem, departure),
        arrival_home=moment(problem, arrival_home),
        stops=tuple(timed),
        breaks=tuple(PlacedBreak(moment(problem, s), moment(problem, s + d)) for s, d in placed),
        return_travel_s=back_s,
        return_distance_m=back_m,
        kpis=kpis,
    )

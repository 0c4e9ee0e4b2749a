"""Helpers the tests share: Denver times, tiny travel matrices, and a solve that always goes through the checker."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from routing import Location, Problem, Result, SolveParams, TimeWindow, TravelMatrix, solve
from routing.check import check

DENVER = ZoneInfo("America/Denver")

#: small, repeatable searches: one process, a work limit instead of a clock
QUICK = SolveParams(workers=1, solution_limit=200, lns_moves=50, pyvrp_iterations=300, time_limit_s=1.0)


def at(hhmm: str, day: int = 2) -> datetime:
    """December ``day``, 2026, at ``hhmm`` in Denver."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 12, day, hour, minute, tzinfo=DENVER)


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(at(start), at(end))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def line_matrix(positions_km: list[float], minutes_per_km: float = 1.0) -> TravelMatrix:
    """Travel along a straight road: |x_i - x_j| km, at ``minutes_per_km``."""
    x = np.asarray(positions_km, dtype=float)
    km = np.abs(x[:, None] - x[None, :])
    return TravelMatrix(durations=np.rint(km * minutes_per_km * 60), distances=np.rint(km * 1000))


def spot(k: int) -> Location:
    """A distinct placeholder location; tests give the travel matrix explicitly."""
    return Location(39.0 + k / 1000, -105.0)


def solve_checked(problem: Problem, params: SolveParams = QUICK) -> Result:
    """Solve, then insist the independent checker finds nothing and every
    visit is routed once or unassigned with a reason."""
    result = solve(problem, params)
    violations = check(problem, result)
    assert violations == [], violations
    routed = [stop.visit_id for route in result.routes for stop in route.stops]
    left_out = [item.visit_id for item in result.unassigned]
    assert sorted(routed + left_out) == sorted(v.id for v in problem.visits)
    assert all(item.detail for item in result.unassigned)
    return result

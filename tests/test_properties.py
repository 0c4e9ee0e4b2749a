"""Property tests: for any small problem, the plan passes the independent
checker and accounts for every visit exactly once."""

from __future__ import annotations

import warnings
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import Break, Location, Problem, Reason, Shift, TimeWindow, UnservableVisitWarning, Visit
from tests.conftest import at, solve_checked

SKILLS = ("iv", "nad", "magnesium")
MINUTE = timedelta(minutes=1)


@st.composite
def locations(draw: st.DrawFn) -> Location:
    # around Denver, within about 25 km
    return Location(
        39.74 + draw(st.integers(-200, 200)) / 1000,
        -104.99 + draw(st.integers(-250, 250)) / 1000,
    )


@st.composite
def windows(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    count = draw(st.integers(1, 2))
    opens = sorted(draw(st.lists(st.integers(6 * 60, 19 * 60), min_size=count, max_size=count, unique=True)))
    result = []
    for k, start in enumerate(opens):
        limit = opens[k + 1] - 1 if k + 1 < count else 21 * 60
        end = min(limit, start + draw(st.integers(0, 180)))
        result.append(TimeWindow(at("00:00") + start * MINUTE, at("00:00") + end * MINUTE))
    return tuple(result)


@st.composite
def visits(draw: st.DrawFn, vid: str, medic_ids: list[str]) -> Visit:
    allowed = draw(st.none() | st.sets(st.sampled_from(medic_ids), min_size=1))
    return Visit(
        id=vid,
        location=draw(locations()),
        service=draw(st.integers(5, 150)) * MINUTE,
        windows=draw(windows()),
        skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
        demand={"bag": draw(st.integers(0, 3)), "vial": draw(st.integers(0, 1))},
        priority=draw(st.integers(1, 10)),
        optional=draw(st.booleans()),
        setup=draw(st.sampled_from([0, 5, 15])) * MINUTE,
        allowed_medics=frozenset(allowed) if allowed else None,
        preferred_medics=frozenset(draw(st.sets(st.sampled_from(medic_ids), max_size=1))),
    )


@st.composite
def shifts(draw: st.DrawFn, mid: str) -> Shift:
    begin = draw(st.integers(6 * 60, 12 * 60))
    length = draw(st.integers(4 * 60, 10 * 60))
    start, end = at("00:00") + begin * MINUTE, at("00:00") + (begin + length) * MINUTE
    breaks = []
    if draw(st.booleans()):
        middle = start + (end - start) / 2
        breaks.append(Break(30 * MINUTE, TimeWindow(middle - 60 * MINUTE, middle + 30 * MINUTE)))
    if draw(st.booleans()):
        breaks.append(Break(10 * MINUTE, TimeWindow(start + 60 * MINUTE, start + 150 * MINUTE)))
    home = draw(locations())
    return Shift(
        medic_id=mid,
        start_location=home,
        end_location=draw(st.just(home) | locations()),
        window=TimeWindow(start, end),
        hard_end=end + draw(st.sampled_from([0, 30, 60])) * MINUTE,
        skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
        stock={"bag": draw(st.integers(0, 8)), "vial": draw(st.integers(0, 2))},
        breaks=tuple(breaks),
        max_visits=draw(st.none() | st.integers(0, 6)),
    )


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    medic_ids = [f"m{k}" for k in range(draw(st.integers(1, 3)))]
    day = [draw(shifts(mid)) for mid in medic_ids]
    jobs = [draw(visits(f"v{k}", medic_ids)) for k in range(draw(st.integers(1, 12)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservableVisitWarning)
        return Problem.build(jobs, day)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solve_plans_pass_the_checker_for_generated_problems(problem: Problem) -> None:
    """Any small problem: check() finds nothing, and each visit is routed once or unassigned with a reason."""
    result = solve_checked(problem)
    for item in result.unassigned:
        visit = problem.visit(item.visit_id)
        if item.reason is Reason.NO_SKILL:
            assert not any(visit.skills <= shift.skills for shift in problem.shifts)
        if item.reason is Reason.NOT_ENOUGH_STOCK:
            # eligible: has the skills, is allowed, and may make at least one visit (max_visits 0 may not)
            eligible = [
                s
                for s in problem.shifts
                if visit.skills <= s.skills
                and (visit.allowed_medics is None or s.medic_id in visit.allowed_medics)
                and s.max_visits != 0
            ]
            assert eligible
            assert not any(all(s.stock.get(k, 0) >= n for k, n in visit.demand.items()) for s in eligible)

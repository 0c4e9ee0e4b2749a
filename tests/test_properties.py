"""Property tests: for any small problem, the plan passes the independent
checker and accounts for every visit exactly once."""

from __future__ import annotations

import warnings
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import Break, Location, Problem, Reason, Shift, TimeWindow, UnservableVisitWarning, Visit
from routing.compiled import compile_problem
from routing.repair import Repair
from tests.helpers import QUICK, at, solve_checked

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
        group=draw(st.none() | st.none() | st.sampled_from(["g1", "g2"])),
        patients=draw(st.integers(1, 4)),
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

    def lacks_skills(visit: Visit) -> bool:
        return not any(visit.skills <= shift.skills for shift in problem.shifts)

    def short_of_stock(visit: Visit) -> bool:
        # eligible: has the skills, is allowed, and may make at least one visit (max_visits 0 may not)
        eligible = [
            s
            for s in problem.shifts
            if visit.skills <= s.skills
            and (visit.allowed_medics is None or s.medic_id in visit.allowed_medics)
            and s.max_visits != 0
        ]
        return bool(eligible) and not any(
            all(s.stock.get(k, 0) >= n for k, n in visit.demand.items()) for s in eligible
        )

    for item in result.unassigned:
        visit = problem.visit(item.visit_id)
        # a group is served whole or not at all: the reason may be any one part's
        members = problem.groups[visit.group] if visit.group is not None else (visit,)
        if item.reason is Reason.NO_SKILL:
            assert any(lacks_skills(member) for member in members)
        if item.reason is Reason.NOT_ENOUGH_STOCK:
            assert any(short_of_stock(member) for member in members)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solve_leaves_no_medic_idle_while_a_visit_left_out_fits_their_day(problem: Problem) -> None:
    """No medic without a route could serve, alone and with every break, a visit (or a whole group) the
    plan left out;
    a plan filled to the end has no visit that fits as planned (search_time), and each crowded_out
    visit is on the day of a medic who serves higher-priority visits."""
    result = solve_checked(problem)
    c = compile_problem(problem, QUICK)
    repair = Repair(c)
    node_of = {problem.visits[c.visit_of_node[n]].id: n for n in range(c.depot_count, len(c.node_location))}
    working = {route.medic_id for route in result.routes}
    left_out = [node_of[item.visit_id] for item in result.unassigned if item.visit_id in node_of]
    # a group booking counts whole: its parts back to back on the idle medic's day
    units = {tuple(repair.unit_of(node)) for node in left_out}
    for vehicle, medic in enumerate(problem.shifts):
        if medic.medic_id not in working:
            assert not any(repair.timer.feasible(vehicle, list(unit)) for unit in units)
    assert all(item.reason is not Reason.SEARCH_TIME for item in result.unassigned)
    for item in result.unassigned:
        if item.reason is Reason.CROWDED_OUT:
            # a visit weighing more (a higher priority, or mandatory over optional) is on an eligible day
            rank = c.rank[node_of[item.visit_id]]
            vehicle_of = {shift.medic_id: v for v, shift in enumerate(problem.shifts)}
            assert any(
                vehicle_of[route.medic_id] in c.allowed[node_of[item.visit_id]]
                and any(c.rank[node_of[stop.visit_id]] > rank for stop in route.stops)
                for route in result.routes
            )

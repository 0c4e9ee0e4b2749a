"""A dispatcher's move: one stop of the published plan to another medic, or to another place in a route.

The published plan is read back as a :class:`routing.Result` exactly as it was stored; the move is
made with :func:`routing.resequence.move_visit`, which times the two routes it touches again; and
:func:`routing.check.check` judges the outcome. :func:`check_move` only says what would happen (the
rules the move breaks, in the checker's words, and the change in every KPI); :func:`commit_move`
does it under the day's lease, checks it once more, and publishes a new version through the same
draft-then-atomic-publish as any re-plan, audited with the dispatcher's account.

A move is made against the day as the plan saw it. When the day has changed since (a booking
added, a shift moved), the published plan no longer matches it, and the move is refused: re-plan
first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.access.audit import append_event
from dispatch.planning.day import PlanOutcome, plan_kpis, publish_draft, published_plan, store_draft
from dispatch.planning.jobs import published_plan_view
from dispatch.planning.leases import acquire_lease, release_lease
from dispatch.planning.translate import DayInput, build_day, medic_key, visit_key
from dispatch.records.validation import Conflict, InvalidInput, NotFound
from dispatch.store.config import Settings
from dispatch.store.db import session_scope, use_key
from dispatch.store.tables import PlanRoute, PlanStop, PlanUnassigned, parse_utc
from routing import Kpis, PlacedBreak, Reason, Result, Route, Stop, Unassigned
from routing.check import check
from routing.resequence import move_visit

#: how long a move may hold the day's lease (it solves nothing: reading, timing two routes, writing)
MOVE_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Move:
    """Booking ``booking_id`` (its part ``part``) to ``medic_id``, as stop number ``position`` (from 0)."""

    booking_id: int
    medic_id: int
    position: int
    part: int = 1


@dataclass(frozen=True)
class MoveCheck:
    """What a move would do: the rules it breaks (empty: it may be made) and every KPI before and after."""

    version: int
    violations: list[str] = field(default_factory=list)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def delta(self) -> dict[str, int]:
        return {name: self.after[name] - self.before[name] for name in self.before}


def check_move(session: Session, day: date, settings: Settings, move: Move) -> MoveCheck:
    """What ``move`` would do to the published plan of ``day``; nothing is written."""
    checked, _, _ = _judge(session, day, settings, move)
    return checked


def commit_move(engine: Engine, day: date, settings: Settings, move: Move, *, actor_user_id: int) -> PlanOutcome:
    """Make ``move`` and publish it as a new version, if it breaks no rule; else a :class:`Conflict` that
    names the broken rules. A re-plan of the day running at the time makes it ``busy``."""
    use_key(engine, settings.audit.key)
    holder = f"move:{uuid.uuid4().hex[:12]}"
    if not acquire_lease(engine, day, holder, MOVE_LEASE):
        raise Conflict("a re-plan of this day is running; move once it has published")
    try:
        with Session(engine) as session:
            checked, day_input, moved = _judge(session, day, settings, move)
        if not checked.allowed:
            raise Conflict("the move breaks a rule: " + "; ".join(checked.violations))
        plan = store_draft(engine, day_input, moved, None)
        publish_draft(engine, plan, None, actor_user_id)
        with session_scope(engine) as session:
            append_event(
                session,
                actor_user_id=actor_user_id,
                action="write",
                resource="plan_move",
                resource_ids=[plan.id or 0, move.booking_id, f"medic:{move.medic_id}", f"version:{plan.version}"],
            )
        return PlanOutcome("published", day, plan.id, plan.version, "moved by hand")
    finally:
        release_lease(engine, day, holder)


def _judge(session: Session, day: date, settings: Settings, move: Move) -> tuple[MoveCheck, DayInput, Result]:
    plan = published_plan(session, day)
    if plan is None:
        raise NotFound("plan")
    day_input = build_day(session, day, settings)
    if day_input.input_hash != plan.input_hash:
        raise Conflict("the day has changed since this plan was published; re-plan it, then move")
    visit = visit_key(move.booking_id, move.part)
    medic = medic_key(move.medic_id)
    problems = []
    if visit not in day_input.origins:
        problems.append((("booking_id",), "is not a stop or an unassigned booking of this plan"))
    if medic not in day_input.medic_ids:
        problems.append((("medic_id",), "is not a medic on shift that day"))
    if move.position < 0:
        problems.append((("position",), "must be 0 or more"))
    if problems:
        raise InvalidInput(problems)
    before = published_result(session, day_input, plan.id or 0)
    moved = move_visit(day_input.problem, before, visit, medic, move.position)
    violations = [_in_plain_words(v.message, day_input) for v in check(day_input.problem, moved)]
    return MoveCheck(plan.version, violations, _figures(before), _figures(moved)), day_input, moved


def _in_plain_words(message: str, day_input: DayInput) -> str:
    """The checker's sentence with its ids as a dispatcher knows them: 'b12p1' is booking 12, 'm3' medic 3."""
    for key, origin in day_input.origins.items():
        if f"'{key}'" in message:
            name = f"booking {origin.booking_id}" + (f" (part {origin.part})" if origin.part > 1 else "")
            message = message.replace(f"'{key}'", name)
    for key, medic_id in day_input.medic_ids.items():
        message = message.replace(f"'{key}'", str(medic_id))
    return message


def published_result(session: Session, day_input: DayInput, plan_id: int) -> Result:
    """The published plan as the :class:`routing.Result` it was stored from: the same stops, times,
    breaks and figures, and the same unassigned visits with their reasons."""
    view = published_plan_view(session, day=day_input.day)
    keys = {medic_id: key for key, medic_id in day_input.medic_ids.items()}
    routes = tuple(
        _route(keys[row.medic_id], row, view.stops.get(row.medic_id, [])) for row in view.routes if row.medic_id in keys
    )
    known = set(day_input.origins)
    unassigned = tuple(
        Unassigned(visit_key(row.booking_id, row.part), _reason(row), row.detail)
        for row in view.unassigned
        if visit_key(row.booking_id, row.part) in known
    )
    solver = view.plan.solver
    return Result(routes, unassigned, int(solver.get("objective", 0)), float(solver.get("runtime_s", 0.0)))


def _route(medic: str, row: PlanRoute, stops: list[PlanStop]) -> Route:
    kpis = Kpis(**{name: int(row.kpis.get(name, 0)) for name in Kpis.__dataclass_fields__})
    timed = tuple(
        Stop(
            visit_key(stop.booking_id, stop.part),
            stop.arrival,
            stop.start,
            stop.end,
            stop.wait_s,
            stop.travel_s,
            stop.distance_m,
        )
        for stop in stops
    )
    breaks = tuple(PlacedBreak(parse_utc(a), parse_utc(b)) for a, b in row.breaks)
    return Route(
        medic,
        row.departure,
        row.arrival_home,
        timed,
        breaks,
        kpis.driving_s - sum(stop.travel_s for stop in timed),
        kpis.distance_m - sum(stop.distance_m for stop in timed),
        kpis,
    )


def _reason(row: PlanUnassigned) -> Reason:
    try:
        return Reason(row.reason)
    except ValueError:  # a reason of dispatch's own (held back before the solve): the closest of the solver's
        return Reason.NO_ELIGIBLE_MEDIC


def _figures(result: Result) -> dict[str, int]:
    return {**plan_kpis(result), "unassigned": len(result.unassigned)}

"""A plain-text report of a day's published plan: one line per medic, the
unassigned bookings with their reasons, and the KPIs. Ids and medic names
only: no patient data."""

from __future__ import annotations

from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dispatch.planning.day import published_plan
from dispatch.store.tables import Medic, PlanIdleMedic, PlanRoute, PlanUnassigned


def _hm(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def day_report(session: Session, day: date, zone: ZoneInfo, *, verbose: bool = True) -> str:
    """The published plan as text; the unassigned bookings as counts by reason, each one listed when ``verbose``."""
    plan = published_plan(session, day)
    if plan is None:
        return f"No published plan for {day}."
    routes = session.exec(select(PlanRoute).where(PlanRoute.plan_id == plan.id)).all()
    medics = {m.id: m for m in session.exec(select(Medic)).all()}
    lines = [
        f"Plan for {day}, version {plan.version} (input {plan.input_hash[:12]}), "
        f"solved in {plan.solver.get('runtime_s', 0):.1f} s",
        "",
        f"{'medic':<22}{'role':<11}{'visits':>6}{'leave':>7}{'home':>7}{'drive':>7}{'km':>7}{'idle':>7}{'overtime':>9}",
    ]
    for route in sorted(routes, key=lambda r: r.medic_id):
        medic = medics[route.medic_id]
        k = route.kpis
        leave = route.departure.astimezone(zone).strftime("%H:%M")
        home = route.arrival_home.astimezone(zone).strftime("%H:%M")
        lines.append(
            f"{medic.name[:21]:<22}{medic.role.value:<11}{k['visits']:>6}{leave:>7}{home:>7}"
            f"{_hm(k['driving_s']):>7}{k['distance_m'] / 1000:>7.1f}{_hm(k['idle_s']):>7}{_hm(k['overtime_s']):>9}"
        )
    unassigned = session.exec(
        select(PlanUnassigned).where(PlanUnassigned.plan_id == plan.id).order_by(col(PlanUnassigned.booking_id))
    ).all()
    lines.append("")
    lines.append(f"Unassigned booking parts: {len(unassigned)}")
    reasons = Counter(item.reason for item in unassigned)
    lines.append("  by reason: " + (", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) or "none"))
    if verbose:
        for item in unassigned:
            lines.append(f"  booking {item.booking_id:>5} part {item.part}  {item.reason:<20} {item.detail}")
    elif unassigned:
        lines.append("  (each one, with its reason: --verbose)")
    idle = session.exec(select(PlanIdleMedic).where(PlanIdleMedic.plan_id == plan.id)).all()
    if idle:
        lines.append("")
        lines.append(f"Medics on shift without a route: {len(idle)}")
        for note in sorted(idle, key=lambda n: n.medic_id):
            name = medics[note.medic_id].name if note.medic_id in medics else f"medic {note.medic_id}"
            lines.append(f"  {name[:21]:<22}{note.reason:<20}{note.detail}")
    k = plan.kpis
    lines.append("")
    lines.append(
        f"KPIs: {k['visits']} visits served by {k['medics_working']} medics; driving {_hm(k['driving_s'])} "
        f"({k['distance_m'] / 1000:.0f} km); idle {_hm(k['idle_s'])}; overtime {_hm(k['overtime_s'])}; "
        f"{k['unassigned']} unassigned"
    )
    return "\n".join(lines)

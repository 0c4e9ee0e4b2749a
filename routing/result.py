"""What a solve returns: routes with timed stops, KPIs, and unassigned visits
with the reason a dispatcher can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Reason(StrEnum):
    """Why a visit is not on any route."""

    NO_SKILL = "no_skill"
    """No medic on shift has every skill the visit needs."""
    NO_ELIGIBLE_MEDIC = "no_eligible_medic"
    """The medics allowed for the visit are not on shift."""
    NOT_ENOUGH_STOCK = "not_enough_stock"
    """No eligible medic carries enough of some supply for this visit alone."""
    OUTSIDE_SHIFTS = "outside_shifts"
    """Every window of the visit falls outside every eligible shift."""
    UNREACHABLE = "unreachable"
    """An eligible medic could not reach it in time even with nothing else to do."""
    NO_ROOM = "no_room"
    """Feasible alone, but no eligible medic's day in this plan has room for it in its windows."""
    CROWDED_OUT = "crowded_out"
    """Feasible alone, and it would fit if higher-priority visits were taken off an eligible medic's day."""
    SEARCH_TIME = "search_time"
    """It fits into an eligible medic's day as planned: the search ran out of time before placing it."""

    @property
    def feasible_alone(self) -> bool:
        """Some medic could serve the visit on a day of its own: the plan, not the visit, left it out."""
        return self in (Reason.NO_ROOM, Reason.CROWDED_OUT, Reason.SEARCH_TIME)


@dataclass(frozen=True, slots=True)
class Stop:
    """A visit on a route. The medic pulls up at ``arrival``, sets up, and
    starts the service at ``start``; it runs until ``end``. Arrivals are just in
    time: ``wait_s`` is the slack since the previous stop (or leaving home),
    beyond driving and breaks, spent before setting off."""

    visit_id: str
    arrival: datetime
    start: datetime
    end: datetime
    wait_s: int
    travel_s: int
    distance_m: int


@dataclass(frozen=True, slots=True)
class PlacedBreak:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Kpis:
    """Totals for one route, or for the whole plan."""

    driving_s: int = 0
    distance_m: int = 0
    idle_s: int = 0
    service_s: int = 0
    overtime_s: int = 0
    visits: int = 0

    def __add__(self, other: Kpis) -> Kpis:
        return Kpis(
            driving_s=self.driving_s + other.driving_s,
            distance_m=self.distance_m + other.distance_m,
            idle_s=self.idle_s + other.idle_s,
            service_s=self.service_s + other.service_s,
            overtime_s=self.overtime_s + other.overtime_s,
            visits=self.visits + other.visits,
        )


@dataclass(frozen=True, slots=True)
class Route:
    """One medic's day: leave home at ``departure``, serve ``stops`` in order,
    take ``breaks``, and be home at ``arrival_home``. ``return_travel_s`` and
    ``return_distance_m`` are the drive home from the last stop."""

    medic_id: str
    departure: datetime
    arrival_home: datetime
    stops: tuple[Stop, ...]
    breaks: tuple[PlacedBreak, ...]
    return_travel_s: int
    return_distance_m: int
    kpis: Kpis

    @property
    def visit_ids(self) -> tuple[str, ...]:
        return tuple(stop.visit_id for stop in self.stops)


@dataclass(frozen=True, slots=True)
class Unassigned:
    visit_id: str
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Result:
    """The plan: one route per medic who works, and every left-out visit."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: int
    runtime_s: float
    strategy: str = ""
    searches: tuple[str, ...] = field(default=())

    @property
    def kpis(self) -> Kpis:
        total = Kpis()
        for route in self.routes:
            total = total + route.kpis
        return total

    def summary(self) -> str:
        """A plain-text table: one line per route, then totals and the unassigned."""
        lines = [
            f"{'medic':<14}{'visits':>7}{'leave':>8}{'home':>8}{'drive':>8}{'km':>8}{'idle':>8}{'overtime':>10}",
        ]
        for route in self.routes:
            k = route.kpis
            lines.append(
                f"{route.medic_id:<14}{k.visits:>7}{route.departure.strftime('%H:%M'):>8}"
                f"{route.arrival_home.strftime('%H:%M'):>8}{_hm(k.driving_s):>8}{k.distance_m / 1000:>8.1f}"
                f"{_hm(k.idle_s):>8}{_hm(k.overtime_s):>10}"
            )
        total = self.kpis
        lines.append(
            f"{'total':<14}{total.visits:>7}{'':>8}{'':>8}{_hm(total.driving_s):>8}"
            f"{total.distance_m / 1000:>8.1f}{_hm(total.idle_s):>8}{_hm(total.overtime_s):>10}"
        )
        if self.unassigned:
            lines.append("")
            lines.append(f"unassigned ({len(self.unassigned)}):")
            for item in self.unassigned:
                lines.append(f"  {item.visit_id:<14}{item.reason.value:<20}{item.detail}")
        return "\n".join(lines)


def _hm(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"

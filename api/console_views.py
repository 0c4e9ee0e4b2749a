"""The console's day board as the page shows it: local times, the timeline's blocks, and the map's data.

Only presentation lives here (where a block sits on the timeline, which colour a medic gets, how a time
reads); every fact comes from :func:`dispatch.planning.board.day_board`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.planning.board import Board, BoardMedic, BoardRoute
from dispatch.store.config import ConsoleSettings

#: one colour per working medic, in turn: distinct on a map and readable on white
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#ff7f0e",
    "#393b79",
    "#637939",
    "#843c39",
)
KPI_LABELS = (
    ("visits", "Visits served"),
    ("patients", "Patients served"),
    ("unassigned", "Unassigned"),
    ("driving_s", "Driving"),
    ("overtime_s", "Overtime"),
    ("medics_working", "Medics used"),
)


#: where a stretch of time sits on the timeline: (left, width) in per cent of the day shown
Placer = Callable[[datetime, datetime], tuple[float, float]]


@dataclass(frozen=True)
class Block:
    """One block on a timeline row: its kind (shift, overtime_window, drive, stop, break, idle, overtime),
    where it starts and how wide it is, in per cent of the day shown, and its label."""

    kind: str
    left: float
    width: float
    label: str
    booking_id: int | None = None


@dataclass(frozen=True)
class TimelineRow:
    medic_id: int
    name: str
    colour: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Timeline:
    hours: tuple[tuple[float, str], ...]
    rows: tuple[TimelineRow, ...] = field(default=())


def hm(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M") if moment else ""


def duration(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def colours(board: Board) -> dict[int, str]:
    """A colour for each medic on shift, in roster order."""
    return {medic.id: PALETTE[k % len(PALETTE)] for k, medic in enumerate(board.medics)}


def kpi_cards(board: Board) -> list[tuple[str, str]]:
    """(label, value) of each KPI the board shows; times as h:mm."""
    patients = sum(len(stop.patients) for route in board.routes for stop in route.stops)
    figures = {**board.kpis, "patients": patients}
    cards = []
    for key, label in KPI_LABELS:
        value = figures.get(key)
        if value is None:
            continue
        cards.append((label, duration(value) if key.endswith("_s") else str(value)))
    return cards


def timeline(board: Board, zone: ZoneInfo) -> Timeline:
    """A row per medic on shift, across the hours from the first shift's start to the last return."""
    if not board.medics:
        return Timeline(())
    moments = [m.shift_start for m in board.medics] + [m.hard_end or m.shift_end for m in board.medics]
    moments += [r.arrival_home for r in board.routes] + [r.departure for r in board.routes]
    first = min(moments).astimezone(zone).replace(minute=0, second=0, microsecond=0)
    last = max(moments).astimezone(zone)
    last = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    span = (last - first).total_seconds()

    def place(start: datetime, end: datetime) -> tuple[float, float]:
        left = (start - first).total_seconds() / span * 100
        return round(left, 3), round(max(0.0, (end - start).total_seconds() / span * 100), 3)

    hours = []
    moment = first
    while moment <= last:
        hours.append((place(moment, moment)[0], moment.strftime("%H:%M")))
        moment += timedelta(hours=1)
    palette = colours(board)
    routes = {route.medic_id: route for route in board.routes}
    rows = tuple(
        TimelineRow(medic.id, medic.name, palette[medic.id], tuple(_blocks(medic, routes.get(medic.id), place, zone)))
        for medic in board.medics
    )
    return Timeline(tuple(hours), rows)


def _blocks(medic: BoardMedic, route: BoardRoute | None, place: Placer, zone: ZoneInfo) -> list[Block]:
    blocks = [Block("shift", *place(medic.shift_start, medic.shift_end), "shift")]
    if medic.hard_end and medic.hard_end > medic.shift_end:
        blocks.append(Block("overtime_window", *place(medic.shift_end, medic.hard_end), "may run over until"))
    if route is None:
        return blocks
    busy: list[tuple[datetime, datetime]] = []
    for stop in route.stops:
        leave = stop.arrival - timedelta(seconds=stop.travel_s)
        if stop.travel_s:
            blocks.append(Block("drive", *place(leave, stop.arrival), f"drive {duration(stop.travel_s)}"))
            busy.append((leave, stop.arrival))
        label = f"booking {stop.booking_id}, {hm(stop.start, zone)}-{hm(stop.end, zone)}"
        blocks.append(Block("stop", *place(stop.arrival, stop.end), label, stop.booking_id))
        busy.append((stop.arrival, stop.end))
    back_s = route.kpis.get("driving_s", 0) - sum(stop.travel_s for stop in route.stops)
    if back_s > 0:
        leave = route.arrival_home - timedelta(seconds=back_s)
        blocks.append(Block("drive", *place(leave, route.arrival_home), f"drive home {duration(back_s)}"))
        busy.append((leave, route.arrival_home))
    for start, end in route.breaks:
        blocks.append(Block("break", *place(start, end), f"break {hm(start, zone)}-{hm(end, zone)}"))
        busy.append((start, end))
    busy.sort()
    cursor = route.departure
    for start, end in busy:
        if start > cursor:
            blocks.append(
                Block("idle", *place(cursor, start), f"idle {duration(int((start - cursor).total_seconds()))}")
            )
        cursor = max(cursor, end)
    if route.arrival_home > medic.shift_end:
        overtime = int((route.arrival_home - medic.shift_end).total_seconds())
        blocks.append(Block("overtime", *place(medic.shift_end, route.arrival_home), f"overtime {duration(overtime)}"))
    return blocks


def map_data(board: Board, zone: ZoneInfo, console: ConsoleSettings) -> dict[str, Any]:
    """What the map draws: each medic's home, each route's stops in order in the medic's colour, and the
    unassigned bookings; the tile server, if one is configured."""
    palette = colours(board)
    names = {medic.id: medic.name for medic in board.medics}
    return {
        "tiles": {"url": console.tile_url, "attribution": console.attribution},
        "homes": [
            {"medic_id": m.id, "name": m.name, "colour": palette[m.id], "at": [m.home_lat, m.home_lon]}
            for m in board.medics
            if m.home_lat is not None and m.home_lon is not None
        ],
        "routes": [
            {
                "medic_id": route.medic_id,
                "name": names.get(route.medic_id, f"medic {route.medic_id}"),
                "colour": palette.get(route.medic_id, "#333333"),
                "stops": [
                    {
                        "booking_id": stop.booking_id,
                        "number": k,
                        "at": [stop.lat, stop.lon],
                        "window": f"{hm(stop.window_start, zone)}-{hm(stop.window_end, zone)}",
                        "planned": f"arrive {hm(stop.arrival, zone)}, start {hm(stop.start, zone)}, "
                        f"done {hm(stop.end, zone)}",
                        "patients": list(stop.patients),
                        "services": list(stop.services),
                    }
                    for k, stop in enumerate(route.stops, start=1)
                ],
            }
            for route in board.routes
        ],
        "unassigned": [
            {
                "booking_id": item.booking_id,
                "at": [item.lat, item.lon],
                "window": f"{hm(item.window_start, zone)}-{hm(item.window_end, zone)}",
                "reason": item.words,
            }
            for item in board.unassigned
            if item.lat is not None and item.lon is not None
        ],
    }


def day_offset(day: date, zone: ZoneInfo) -> str:
    """The zone's UTC offset at noon of ``day`` ("-07:00"), for the booking form's times."""
    offset = datetime(day.year, day.month, day.day, 12, tzinfo=zone).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"

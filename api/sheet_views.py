"""A route sheet in three formats: JSON (Public model), a mobile HTML page, and iCalendar.

Times are shown in the company's time zone. The page and the calendar carry no patient data
in URLs. The day's calendar download holds the schedule and the places but no patient names or
phones: a calendar file tends to be synced to third-party clouds, so the page is where those are
read. The subscribed feed holds less still (times and stop numbers only), since the calendar
provider's servers fetch and keep it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlmodel import Session

from api.models import BreakPublic, RouteSheetPublic, SheetPatientPublic, SheetStopPublic
from dispatch.access.audit import AuditEntry
from dispatch.access.audit_writer import AuditWriter
from dispatch.planning.sheets import RouteSheet, SheetStop, StoredSheet, load_sheet

#: bump when a format's rendering changes, so clients' ETags stop matching
RENDER_VERSION = "2"
FORMATS = ("json", "html", "ics")


def navigate_url(lat: float, lon: float) -> str:
    """Google Maps directions to the stop: opens the maps app on Android and iOS, a browser elsewhere."""
    return f"https://www.google.com/maps/dir/?api=1&destination={lat:.6f},{lon:.6f}"


def geo_uri(lat: float, lon: float) -> str:
    """RFC 5870 geo: URI: Android offers every installed maps app."""
    return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}"


def tel_uri(phone: str) -> str:
    """tel: link of a phone number as written (+1-720-555-0101 -> tel:+17205550101)."""
    return "tel:" + re.sub(r"[^\d+]", "", phone)


def sheet_etag(stored: StoredSheet, fmt: str, zone: ZoneInfo) -> str:
    """A strong ETag: the published plan's content hash, plus a digest of the stored sheet, the format, the
    zone and the renderer.

    The content hash alone would miss an edit that needs no re-plan (a corrected phone number or
    access note); the stored sheet's digest changes with every edit that changes what it shows.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown sheet format {fmt!r}")
    digest = hashlib.sha256(f"{stored.digest}|{fmt}|{zone.key}|{RENDER_VERSION}".encode()).hexdigest()
    return f'"{stored.content_hash[:24]}-{digest[:24]}-{fmt}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak comparison, as RFC 9110 says for GET)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def audit_ids(sheet: RouteSheet) -> list[int | str]:
    """What a read of ``sheet`` disclosed, as ids: the medic, the plan, the bookings and the patients."""
    bookings = sorted({stop.booking_id for stop in sheet.stops})
    patients = sorted({p.patient_id for stop in sheet.stops for p in stop.patients})
    return [
        f"medic:{sheet.medic_id}",
        f"plan:{sheet.plan_id}",
        f"date:{sheet.day.isoformat()}",
        *(f"booking:{b}" for b in bookings),
        *(f"patient:{p}" for p in patients),
    ]


@dataclass(frozen=True)
class Rendered:
    """A stored sheet in one format: the bytes sent, their ETag, and the ids a read of them discloses."""

    body: bytes
    etag: str
    media_type: str
    audit_ids: tuple[int | str, ...]


MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8", "ics": "text/calendar; charset=utf-8"}


class SheetRenderer:
    """Renders each stored sheet once per format, and keeps the bytes (this process, least recently used out).

    A published sheet changes only through :func:`dispatch.planning.sheets.store_sheets`, which gives it a new
    digest, so an entry keyed by the digest can never be stale. Two hundred phones opening their
    sheets at once then cost a lookup each, not a render each.
    """

    def __init__(
        self,
        zone: ZoneInfo,
        page_url: Callable[[date], str],
        render_html: Callable[[dict[str, Any]], str],
        size: int = 4096,
    ) -> None:
        self.zone = zone
        self.page_url = page_url
        self.render_html = render_html
        self.size = size
        self._entries: OrderedDict[tuple[int, str, str], Rendered] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # read by the tests: how many times a sheet was really rendered

    def render(self, session: Session, stored: StoredSheet, fmt: str) -> Rendered:
        key = (stored.row_id, stored.digest, fmt)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        sheet = load_sheet(session, stored)
        if fmt == "json":
            body = sheet_public(sheet, self.zone).model_dump_json().encode()
        elif fmt == "html":
            body = self.render_html(page_context(sheet, self.zone)).encode()
        else:
            body = sheet_calendar(sheet, self.zone, self.page_url(sheet.day))
        rendered = Rendered(body, sheet_etag(stored, fmt, self.zone), MEDIA_TYPES[fmt], tuple(audit_ids(sheet)))
        with self._lock:
            self.renders += 1
            self._entries[key] = rendered
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return rendered


def audited_read(
    session: Session,
    writer: AuditWriter,
    actor_user_id: int | None,
    rendered: Rendered,
    if_none_match: str | None,
) -> bool:
    """Audit a read of a rendered sheet; whether to send it (False: the client has it, answer 304).

    The read is on record (ok or not_modified) before this returns. The session's reads are over by
    now, so its transaction ends first: the connection goes back to the pool during the wait.
    """
    session.commit()
    fresh = not etag_matches(if_none_match, rendered.etag)
    outcome = "ok" if fresh else "not_modified"
    writer.record(AuditEntry(actor_user_id, "read", "route_sheet", rendered.audit_ids, outcome))
    return fresh


# --------------------------------------------------------------------- JSON


def _stop_public(stop: SheetStop, zone: ZoneInfo) -> SheetStopPublic:
    return SheetStopPublic(
        sequence=stop.sequence,
        booking_id=stop.booking_id,
        part=stop.part,
        arrival=stop.arrival.astimezone(zone),
        start=stop.start.astimezone(zone),
        end=stop.end.astimezone(zone),
        window_start=stop.window_start.astimezone(zone),
        window_end=stop.window_end.astimezone(zone),
        place_kind=stop.place_kind,
        address=stop.address,
        access_notes=stop.access_notes,
        lat=stop.lat,
        lon=stop.lon,
        navigate_url=navigate_url(stop.lat, stop.lon),
        patients=[
            SheetPatientPublic(display_name=p.display_name, phone=p.phone, service=p.service) for p in stop.patients
        ],
        changed=stop.changed,
    )


def sheet_public(sheet: RouteSheet, zone: ZoneInfo) -> RouteSheetPublic:
    return RouteSheetPublic(
        date=sheet.day,
        plan_version=sheet.plan_version,
        timezone=zone.key,
        medic_name=sheet.medic_name,
        departure=sheet.departure.astimezone(zone),
        arrival_home=sheet.arrival_home.astimezone(zone),
        driving_minutes=round(sheet.kpis.get("driving_s", 0) / 60),
        overtime_minutes=round(sheet.kpis.get("overtime_s", 0) / 60),
        breaks=[
            BreakPublic(
                start=datetime.fromisoformat(start).astimezone(zone), end=datetime.fromisoformat(end).astimezone(zone)
            )
            for start, end in sheet.breaks
        ],
        stock=dict(sheet.stock),
        stops=[_stop_public(stop, zone) for stop in sheet.stops],
        changes=list(sheet.changes),
        revision=sheet.revision,
    )


# --------------------------------------------------------------------- HTML


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """9:05 AM, in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def page_context(sheet: RouteSheet, zone: ZoneInfo) -> dict[str, Any]:
    """What the page template shows, formatted for a phone."""
    return {
        "day": sheet.day,
        "day_label": f"{sheet.day:%A}, {sheet.day:%B} {sheet.day.day}",
        "zone": zone.key,
        "medic_name": sheet.medic_name,
        "plan_version": sheet.plan_version,
        "changes": list(sheet.changes),
        "departure": clock(sheet.departure, zone),
        "arrival_home": clock(sheet.arrival_home, zone),
        "driving_minutes": round(sheet.kpis.get("driving_s", 0) / 60),
        "overtime_minutes": round(sheet.kpis.get("overtime_s", 0) / 60),
        "breaks": [
            (clock(datetime.fromisoformat(start), zone), clock(datetime.fromisoformat(end), zone))
            for start, end in sheet.breaks
        ],
        "stock": sorted(sheet.stock.items()),
        "stops": [
            {
                "sequence": stop.sequence,
                "changed": stop.changed,
                "arrival": clock(stop.arrival, zone),
                "start": clock(stop.start, zone),
                "end": clock(stop.end, zone),
                "window": f"{clock(stop.window_start, zone)} – {clock(stop.window_end, zone)}",
                "place_kind": stop.place_kind,
                "address": stop.address,
                "access_notes": stop.access_notes,
                "navigate_url": navigate_url(stop.lat, stop.lon),
                "geo_uri": geo_uri(stop.lat, stop.lon),
                "patients": [
                    {"name": p.display_name, "phone": p.phone, "tel": tel_uri(p.phone), "service": p.service}
                    for p in stop.patients
                ],
            }
            for stop in sheet.stops
        ],
    }


#: the page loads nothing from anywhere (inline styles only, no scripts); its one form signs out here
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# --------------------------------------------------------------------- iCalendar


def stop_uid(day: date, plan_version: int, stop: SheetStop) -> str:
    """The same for the same stop of the same plan version, however often the calendar is fetched."""
    return f"{day.isoformat()}-v{plan_version}-booking{stop.booking_id}-part{stop.part}@dripline"


def sheet_calendar(sheet: RouteSheet, zone: ZoneInfo, page_url: str | None = None) -> bytes:
    """One day's sheet as iCalendar: one VEVENT per stop (see :func:`route_calendar`)."""
    return route_calendar([sheet], zone, f"Dripline route {sheet.day.isoformat()}", lambda _day: page_url)


def route_calendar(
    sheets: list[RouteSheet],
    zone: ZoneInfo,
    name: str,
    page_url: Callable[[date], str | None],
    *,
    places: bool = True,
) -> bytes:
    """One VEVENT per stop of every sheet, from the planned start to the end of service.

    DTSTAMP is the plan's publication; ``page_url(day)`` is the day's route page, linked from each event.
    ``places=False`` leaves out the address, the coordinates and the services: a subscribed feed is
    fetched and kept by the calendar provider's servers, not only by the medic's phone.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Dripline//Route sheet//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    for sheet in sheets:
        url = page_url(sheet.day)
        for stop in sheet.stops:
            calendar.add_component(_stop_event(sheet, stop, zone, url, places))
    return calendar.to_ical()


def _stop_event(sheet: RouteSheet, stop: SheetStop, zone: ZoneInfo, page_url: str | None, places: bool) -> Event:
    event = Event()
    event.add("uid", stop_uid(sheet.day, sheet.plan_version, stop))
    event.add("dtstamp", sheet.published_at)
    event.add("dtstart", stop.start)
    event.add("dtend", stop.end)
    people = len(stop.patients)
    lines = [
        f"Arrive {clock(stop.arrival, zone)}; "
        f"window {clock(stop.window_start, zone)} - {clock(stop.window_end, zone)}.",
    ]
    if places:
        services = ", ".join(sorted({p.service for p in stop.patients}))
        event.add("summary", f"Stop {stop.sequence}: {services}")
        event.add("location", stop.address)
        event.add("geo", (stop.lat, stop.lon))
        lines += [
            f"{people} patient{'s' if people != 1 else ''}: names, phones and access notes are on the route page.",
            f"Navigate: {navigate_url(stop.lat, stop.lon)}",
        ]
    else:
        event.add("summary", f"Dripline stop {stop.sequence}")
        lines.append("The address, patients and services are on the route page (sign-in needed).")
    if stop.changed:
        lines.append("Changed since the plan was published: see the route page.")
    event.add("description", "\n".join(lines))
    if page_url:
        event.add("url", page_url)
    event.add("sequence", 0)
    return event

"""Route sheets: what a medic needs for each stop of the published plan.

A sheet holds only what the visit needs: the patients' display names and
phones, the address and access notes, the services and window, the planned
arrival, and the stock to bring. Reading a sheet is reading patient data; the
API audits every read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from dispatch.models import (
    Booking,
    BookingPatient,
    Medic,
    Patient,
    Place,
    Plan,
    PlanRoute,
    PlanStatus,
    PlanStop,
    Service,
)


@dataclass(frozen=True)
class SheetPatient:
    patient_id: int
    display_name: str
    phone: str
    service: str


@dataclass(frozen=True)
class SheetStop:
    sequence: int
    booking_id: int
    part: int
    arrival: datetime
    start: datetime
    end: datetime
    window_start: datetime
    window_end: datetime
    place_kind: str
    address: str
    access_notes: str
    lat: float
    lon: float
    patients: tuple[SheetPatient, ...]


@dataclass(frozen=True)
class RouteSheet:
    day: date
    plan_id: int
    plan_version: int
    content_hash: str
    published_at: datetime
    medic_id: int
    medic_name: str
    departure: datetime
    arrival_home: datetime
    breaks: tuple[tuple[str, str], ...]
    stock: dict[str, int]
    stops: tuple[SheetStop, ...]
    #: the route's figures (driving_s, overtime_s, ...), as the plan stores them
    kpis: dict[str, int] = field(default_factory=dict)


def route_sheets(session: Session, day: date, medic_id: int | None = None) -> list[RouteSheet]:
    """The published sheets of ``day`` (only ``medic_id``'s when given), by medic id.

    Three statements however many stops: the routes with their plan and medic, the stops with
    their bookings and places, and the patients with their services. Medics read their sheets all
    day long, so this selects columns rather than whole rows.
    """
    route_query = (
        select(PlanRoute, Medic.name, Plan.version, Plan.content_hash, Plan.published_at, Plan.created_at)
        .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
        .join(Medic, col(Medic.id) == col(PlanRoute.medic_id))
        .where(Plan.service_date == day)
        .where(Plan.status == PlanStatus.PUBLISHED)
    )
    stop_query = (
        select(
            PlanStop.medic_id,
            PlanStop.sequence,
            PlanStop.booking_id,
            PlanStop.part,
            PlanStop.arrival,
            PlanStop.start,
            PlanStop.end,
            PlanStop.patient_ids,
            Booking.window_start,
            Booking.window_end,
            Booking.alt_window_start,
            Booking.alt_window_end,
            Place.kind,
            Place.address,
            Place.access_notes,
            Place.lat,
            Place.lon,
        )
        .join(Booking, col(Booking.id) == col(PlanStop.booking_id))
        .join(Place, col(Place.id) == col(Booking.place_id))
    )
    if medic_id is not None:
        route_query = route_query.where(PlanRoute.medic_id == medic_id)
        stop_query = stop_query.where(PlanStop.medic_id == medic_id)
    routes = session.exec(route_query.order_by(col(PlanRoute.medic_id))).all()
    if not routes:
        return []
    plan_id = routes[0][0].plan_id
    stop_query = stop_query.where(PlanStop.plan_id == plan_id)
    stops = session.exec(stop_query.order_by(col(PlanStop.medic_id), col(PlanStop.sequence))).all()
    booking_ids = sorted({stop.booking_id for stop in stops})
    people: dict[tuple[int, int], SheetPatient] = {}
    if booking_ids:
        for booking_id, patient_id, display_name, phone, service in session.exec(
            select(BookingPatient.booking_id, Patient.id, Patient.display_name, Patient.phone, Service.name)
            .join(Patient, col(Patient.id) == col(BookingPatient.patient_id))
            .join(Service, col(Service.id) == col(BookingPatient.service_id))
            .where(col(BookingPatient.booking_id).in_(booking_ids))
        ):
            people[(booking_id, patient_id)] = SheetPatient(patient_id, display_name, phone, service)

    by_medic: dict[int, list[SheetStop]] = defaultdict(list)
    for stop in stops:
        by_medic[stop.medic_id].append(
            SheetStop(
                sequence=stop.sequence,
                booking_id=stop.booking_id,
                part=stop.part,
                arrival=stop.arrival,
                start=stop.start,
                end=stop.end,
                # the window the visit starts in: the booking's first, or its second
                window_start=stop.alt_window_start if _in_second(stop) else stop.window_start,
                window_end=stop.alt_window_end if _in_second(stop) else stop.window_end,
                place_kind=stop.kind.value,
                address=stop.address,
                access_notes=stop.access_notes,
                lat=stop.lat or 0.0,
                lon=stop.lon or 0.0,
                patients=tuple(people[(stop.booking_id, pid)] for pid in stop.patient_ids),
            )
        )
    return [
        RouteSheet(
            day=day,
            plan_id=plan_id,
            plan_version=version,
            content_hash=content_hash or "",
            published_at=published_at or created_at,
            medic_id=route.medic_id,
            medic_name=medic_name,
            departure=route.departure,
            arrival_home=route.arrival_home,
            breaks=tuple((start, end) for start, end in route.breaks),
            stock=dict(route.stock),
            stops=tuple(by_medic[route.medic_id]),
            kpis=dict(route.kpis),
        )
        for route, medic_name, version, content_hash, published_at, created_at in routes
    ]


def _in_second(stop: Any) -> bool:
    start, end = stop.alt_window_start, stop.alt_window_end
    return start is not None and end is not None and start <= stop.start <= end


def medic_sheets(session: Session, medic_id: int, first: date, last: date) -> list[RouteSheet]:
    """``medic_id``'s published sheets from ``first`` to ``last`` (inclusive), by day."""
    days = session.exec(
        select(Plan.service_date)
        .join(PlanRoute, col(PlanRoute.plan_id) == col(Plan.id))
        .where(Plan.status == PlanStatus.PUBLISHED)
        .where(PlanRoute.medic_id == medic_id)
        .where(col(Plan.service_date).between(first, last))
        .order_by(col(Plan.service_date))
    ).all()
    return [sheet for day in days for sheet in route_sheets(session, day, medic_id)]

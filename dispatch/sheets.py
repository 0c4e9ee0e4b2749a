"""Route sheets: what a medic needs for each stop of the published plan.

A sheet holds only what the visit needs: the patients' display names and
phones, the address and access notes, the services and window, the planned
arrival, and the stock to bring. Reading a sheet is reading patient data; the
API audits every read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from dispatch.models import Booking, BookingPatient, Medic, Patient, Place, PlanRoute, PlanStop, Service
from dispatch.planning import published_plan


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
    plan_version: int
    content_hash: str
    medic_id: int
    medic_name: str
    departure: datetime
    arrival_home: datetime
    breaks: tuple[tuple[str, str], ...]
    stock: dict[str, int]
    stops: tuple[SheetStop, ...]


def route_sheets(session: Session, day: date, medic_id: int | None = None) -> list[RouteSheet]:
    """The published sheets of ``day`` (only ``medic_id``'s when given), by medic id."""
    plan = published_plan(session, day)
    if plan is None or plan.id is None:
        return []
    query = select(PlanRoute).where(PlanRoute.plan_id == plan.id)
    if medic_id is not None:
        query = query.where(PlanRoute.medic_id == medic_id)
    routes = session.exec(query.order_by(col(PlanRoute.medic_id))).all()
    if not routes:
        return []
    medic_ids = [r.medic_id for r in routes]
    stops = session.exec(
        select(PlanStop)
        .where(PlanStop.plan_id == plan.id)
        .where(col(PlanStop.medic_id).in_(medic_ids))
        .order_by(col(PlanStop.medic_id), col(PlanStop.sequence))
    ).all()
    booking_ids = sorted({s.booking_id for s in stops})
    bookings = {b.id: b for b in session.exec(select(Booking).where(col(Booking.id).in_(booking_ids))).all()}
    places = {
        p.id: p for p in session.exec(select(Place).where(col(Place.id).in_([b.place_id for b in bookings.values()])))
    }
    lines = session.exec(select(BookingPatient).where(col(BookingPatient.booking_id).in_(booking_ids))).all()
    patients = {
        p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_([ln.patient_id for ln in lines])))
    }
    services = {s.id: s for s in session.exec(select(Service)).all()}
    service_of: dict[tuple[int, int], str] = {
        (ln.booking_id, ln.patient_id): services[ln.service_id].name for ln in lines
    }
    medics = {m.id: m for m in session.exec(select(Medic).where(col(Medic.id).in_(medic_ids))).all()}

    by_medic: dict[int, list[SheetStop]] = defaultdict(list)
    for stop in stops:
        booking = bookings[stop.booking_id]
        place = places[booking.place_id]
        by_medic[stop.medic_id].append(
            SheetStop(
                sequence=stop.sequence,
                booking_id=stop.booking_id,
                part=stop.part,
                arrival=stop.arrival,
                start=stop.start,
                end=stop.end,
                window_start=booking.window_start,
                window_end=booking.window_end,
                place_kind=place.kind.value,
                address=place.address,
                access_notes=place.access_notes,
                lat=place.lat or 0.0,
                lon=place.lon or 0.0,
                patients=tuple(
                    SheetPatient(
                        pid, patients[pid].display_name, patients[pid].phone, service_of[(booking.id or 0, pid)]
                    )
                    for pid in stop.patient_ids
                ),
            )
        )
    return [
        RouteSheet(
            day=day,
            plan_version=plan.version,
            content_hash=plan.content_hash or "",
            medic_id=route.medic_id,
            medic_name=medics[route.medic_id].name,
            departure=route.departure,
            arrival_home=route.arrival_home,
            breaks=tuple((start, end) for start, end in route.breaks),
            stock=dict(route.stock),
            stops=tuple(by_medic[route.medic_id]),
        )
        for route in routes
    ]

"""Importing a checked file: bookings and medics written through the same services the API calls.

A file is checked whole (:mod:`dispatch.intake.parse`) before anything is written; if any row
is wrong, nothing is. Each booking (rows sharing a ``booking_ref``) and each medic (a row, by
``medic_ref``, or by name when the file has none) is known by its reference **per source**
(``--source``, default ``import``): importing the same file again creates nothing twice. A
reference seen before updates the booking or medic where the file says something new, and is
left alone where it says the same; the report counts what was created, updated and unchanged.

Times are read in the company's time zone (``Policy.zone``). Patients' names, phones,
addresses, dates of birth and screening answers are protected health information: an error
names the row, the field and what is wrong, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from dispatch.intake.parse import (
    BOOKING_FIELDS,
    MEDIC_FIELDS,
    SCREENING,
    STOCK_ITEMS,
    Row,
    RowError,
    check_booking_row,
    check_medic_row,
    check_unique_refs,
    finish,
    group_rows,
    local,
    read_rows,
    row_error,
)
from dispatch.records.bookings import (
    LineInput,
    booking_lines,
    create_booking,
    get_patient,
    update_booking,
)
from dispatch.records.catalogue import services_by_code
from dispatch.records.places import PlaceInput
from dispatch.records.roster import (
    CredentialInput,
    create_medic,
    create_shift,
    credentials_of,
    update_medic,
    update_shift,
)
from dispatch.records.validation import Conflict, InvalidInput, Policy
from dispatch.store.tables import Booking, Medic, Place, PlaceKind, Role, ShiftRow

DEFAULT_SOURCE = "import"


@dataclass
class ImportReport:
    """What an import did: bookings (or medics) created, updated and left unchanged, or every
    problem found (then nothing was written)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self, what: str) -> str:
        return f"{what}: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def _service_error(row: Row, error: Exception) -> RowError:
    """A service's refusal, pinned on the booking's (or medic's) first row; it names fields, never values."""
    if isinstance(error, InvalidInput):
        loc, reason = error.errors[0]
        return row_error(row.number, ".".join(map(str, loc)), reason)
    message = error.message if isinstance(error, Conflict) else type(error).__name__
    return row_error(row.number, "", message)


# ------------------------------------------------------------------------------------------ bookings


def import_bookings(session: Session, path: Path, *, policy: Policy, source: str = DEFAULT_SOURCE) -> ImportReport:
    """Check every row of ``path``; if all are good, create or update one booking per ``booking_ref``
    in ``session`` (the caller commits only when the report is ok)."""
    rows, file_errors = read_rows(Path(path), BOOKING_FIELDS)
    codes = set(services_by_code(session))
    medic_ids = {row.values["preferred_medic_id"] for row in rows if row.values.get("preferred_medic_id")}
    found = session.exec(select(Medic.id).where(col(Medic.id).in_(medic_ids))).all() if medic_ids else []
    known_medics = {medic_id for medic_id in found if medic_id is not None}
    for row in rows:
        check_booking_row(row, today=policy.today, zone=policy.zone, area=policy.area, codes=codes, medics=known_medics)
    groups = group_rows(rows)
    errors = finish(rows, file_errors, BOOKING_FIELDS)
    if errors:
        return ImportReport(errors=errors)
    report = ImportReport()
    for ref, members in groups.items():
        try:
            outcome = _apply_booking(session, ref, members, policy, source)
        except (InvalidInput, Conflict) as error:
            report.errors.append(_service_error(members[0], error))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _window(values: Mapping[str, Any], start: str, end: str, policy: Policy) -> tuple[datetime | None, datetime | None]:
    if values[start] is None:
        return None, None
    return local(values["date"], values[start], policy.zone), local(values["date"], values[end], policy.zone)


def _apply_booking(session: Session, ref: str, members: list[Row], policy: Policy, source: str) -> str:
    head = members[0].values
    window = _window(head, "window_start", "window_end", policy)
    second = _window(head, "alt_window_start", "alt_window_end", policy)
    place = PlaceInput(
        address=head["address"],
        kind=PlaceKind(head["kind"]),
        lat=head["lat"],
        lon=head["lon"],
        access_notes=head["access_notes"],
    )
    existing = session.exec(select(Booking).where(Booking.source == source).where(Booking.external_ref == ref)).first()
    lines = _lines(session, members, existing)
    if existing is None:
        assert window[0] is not None and window[1] is not None
        booking = create_booking(
            session,
            service_date=head["date"],
            window_start=window[0],
            window_end=window[1],
            alt_window=second,
            lines=lines,
            place=place,
            preferred_medic_id=head["preferred_medic_id"],
            priority=head["priority"],
            policy=policy,
        )
        booking.source, booking.external_ref = source, ref
        session.add(booking)
        session.flush()
        return "created"
    assert existing.id is not None
    changes: dict[str, Any] = {}
    for name, value in (
        ("service_date", head["date"]),
        ("window_start", window[0]),
        ("window_end", window[1]),
        ("alt_window_start", second[0]),
        ("alt_window_end", second[1]),
        ("preferred_medic_id", head["preferred_medic_id"]),
        ("priority", head["priority"]),
    ):
        if getattr(existing, name) != value:
            changes[name] = value
    if _place_changed(session.get(Place, existing.place_id), place):
        changes["place"] = place
    if not _same_lines(session, existing, lines):
        changes["patients"] = lines
    if not changes:
        return "unchanged"
    update_booking(session, booking_id=existing.id, changes=changes, policy=policy)
    return "updated"


def _place_changed(current: Place | None, wanted: PlaceInput) -> bool:
    if current is None:
        return True
    coordinates = wanted.lat is None or (current.lat, current.lon) == (wanted.lat, wanted.lon)
    same = current.address == wanted.address and current.kind == wanted.kind and coordinates
    return not (same and current.access_notes == wanted.access_notes)


def _lines(session: Session, members: list[Row], existing: Booking | None) -> list[LineInput]:
    """The booking's patients; one already on the booking (same name, phone and date of birth) keeps
    their record, so importing again does not make a patient twice."""
    known: dict[tuple[str, str, Any], int] = {}
    if existing is not None and existing.id is not None:
        for line in booking_lines(session, booking_ids=[existing.id]).get(existing.id, []):
            patient = get_patient(session, patient_id=line.patient_id)
            known[(patient.full_name, patient.phone, patient.date_of_birth)] = line.patient_id
    lines = []
    for member in members:
        values = member.values
        screening = {question: values[question] for question in SCREENING if values[question] is not None}
        patient_id = known.get((values["patient_name"], values["patient_phone"], values["patient_dob"]))
        if patient_id is not None and get_patient(session, patient_id=patient_id).screening == screening:
            lines.append(LineInput(service=values["service"], first_visit=values["first_visit"], patient_id=patient_id))
            continue
        lines.append(
            LineInput(
                service=values["service"],
                first_visit=values["first_visit"],
                full_name=values["patient_name"],
                phone=values["patient_phone"],
                date_of_birth=values["patient_dob"],
                # only the questions answered: an unanswered question is not a "no"
                screening=screening,
            )
        )
    return lines


def _same_lines(session: Session, booking: Booking, lines: list[LineInput]) -> bool:
    assert booking.id is not None
    current = booking_lines(session, booking_ids=[booking.id]).get(booking.id, [])
    wanted = [(line.patient_id, line.service, line.first_visit) for line in lines]
    return wanted == [(line.patient_id, line.service, line.first_visit) for line in current]


# ------------------------------------------------------------------------------------------ medics


def import_medics(session: Session, path: Path, *, policy: Policy, source: str = DEFAULT_SOURCE) -> ImportReport:
    """Check every row of ``path``; if all are good, create or update one medic per row (home,
    licence and IV-certification credentials, and at most one shift) in ``session``."""
    rows, file_errors = read_rows(Path(path), MEDIC_FIELDS)
    for row in rows:
        check_medic_row(row, today=policy.today, zone=policy.zone)
        if row.values.get("medic_ref") is None and row.values.get("name") is not None:
            row.values["medic_ref"] = row.values["name"]  # a file without references is known by name
    check_unique_refs(rows, "medic_ref")
    errors = finish(rows, file_errors, MEDIC_FIELDS)
    if errors:
        return ImportReport(errors=errors)
    report = ImportReport()
    for row in rows:
        try:
            outcome = _apply_medic(session, row, policy, source)
        except (InvalidInput, Conflict) as error:
            report.errors.append(_service_error(row, error))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _apply_medic(session: Session, row: Row, policy: Policy, source: str) -> str:
    values = row.values
    ref = values["medic_ref"]
    home = PlaceInput(
        address=values["home_address"], kind=PlaceKind.HOME, lat=values["home_lat"], lon=values["home_lon"]
    )
    stock = {item: values[f"stock_{item}"] for item in STOCK_ITEMS}
    credentials = [
        CredentialInput("iv_certification", values["iv_certification_expires"]),
        CredentialInput("licence", values["licence_expires"]),
    ]
    medic = session.exec(select(Medic).where(Medic.source == source).where(Medic.external_ref == ref)).first()
    outcome = "unchanged"
    if medic is None:
        medic = create_medic(
            session,
            name=values["name"],
            role=Role(values["role"]),
            home=home,
            stock=stock,
            pumps=values["pumps"],
            credentials=credentials,
            policy=policy,
        )
        medic.source, medic.external_ref = source, ref
        session.add(medic)
        session.flush()
        outcome = "created"
    else:
        assert medic.id is not None
        changes: dict[str, Any] = {}
        for name, value in (
            ("name", values["name"]),
            ("role", Role(values["role"])),
            ("stock", stock),
            ("pumps", values["pumps"]),
        ):
            if getattr(medic, name) != value:
                changes[name] = value
        if _place_changed(session.get(Place, medic.home_place_id), home):
            changes["home"] = home
        held = sorted((c.kind, c.expires_on) for c in credentials_of(session, medic_ids=[medic.id]).get(medic.id, []))
        if held != sorted((c.kind, c.expires_on) for c in credentials):
            changes["credentials"] = credentials
        if changes:
            update_medic(session, medic_id=medic.id, changes=changes, policy=policy)
            outcome = "updated"
    if values["shift_date"] is not None and _apply_shift(session, medic, values, policy) and outcome == "unchanged":
        outcome = "updated"
    return outcome


def _apply_shift(session: Session, medic: Medic, values: Mapping[str, Any], policy: Policy) -> bool:
    """The row's shift for the medic, created or moved; whether anything changed."""
    assert medic.id is not None
    day = values["shift_date"]
    start, end = local(day, values["shift_start"], policy.zone), local(day, values["shift_end"], policy.zone)
    assert start is not None and end is not None
    shift = session.exec(
        select(ShiftRow).where(ShiftRow.medic_id == medic.id).where(ShiftRow.service_date == day)
    ).first()
    if shift is None:
        create_shift(session, medic_id=medic.id, service_date=day, starts_at=start, ends_at=end, policy=policy)
        return True
    if (shift.starts_at, shift.ends_at) == (start, end):
        return False
    assert shift.id is not None
    update_shift(session, shift_id=shift.id, changes={"starts_at": start, "ends_at": end}, policy=policy)
    return True

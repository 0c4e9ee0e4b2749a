"""Import bookings and medics from a CSV or JSON file.

A file is checked whole before anything is written: every row is validated, every
problem is reported as a :class:`RowError`, and if there is even one, nothing is added
to the session. Otherwise everything is added in the caller's transaction (the caller
commits).

Patients' names, phones, addresses, dates of birth and screening answers are protected
health information: an error names the row, the field and what is wrong, never the value.
A cell's text is never echoed, not even a column name that does not look like a field
name (a file without a header row would otherwise put a patient's name in the report).

Rows are counted as a person counts them: in a CSV file the header is row 1 and the
first data row is row 2 (a quoted cell that spans lines is still one row); in a JSON
file (a list of objects with the same field names) the first object is row 1. Row 0
is the file itself (unreadable, not valid JSON, no rows).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dispatch.catalogue import DEFAULT_SERVICES, seed_services
from dispatch.config import GeocoderSettings
from dispatch.eligibility import clearance_flags
from dispatch.geocode import Geocoder, geocode_place, inside, normalise_query
from dispatch.models import (
    Booking,
    BookingPatient,
    BookingStatus,
    Credential,
    GeocodeStatus,
    Medic,
    Patient,
    Place,
    PlaceKind,
    Role,
    Service,
    ShiftRow,
)

DENVER = ZoneInfo("America/Denver")

#: the screening questions a booking row may answer
SCREENING = ("kidney_disease", "arrhythmia", "interacting_medication")
#: what each role may do (the same lists the demo day gives)
ROLE_SKILLS = {Role.RN: ["iv", "magnesium", "nad"], Role.PARAMEDIC: ["iv"], Role.NP: ["iv", "magnesium", "nad"]}
STOCK_ITEMS = ("saline_bag", "nad_vial", "magnesium_vial")
MAX_TEXT = 500
MISSING_COLUMN = "required column is missing"


@dataclass(frozen=True)
class RowError:
    """One problem: ``message`` is the whole line a person reads, e.g.
    ``row 3: patient_phone: must be a phone number``; it never holds the value."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class ImportReport:
    """How many bookings (or medics) were created, or every problem found (then ``created`` is 0)."""

    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def row_error(row: int, field_name: str, text: str) -> RowError:
    where = "file" if row == 0 else f"row {row}"
    return RowError(row, field_name, f"{where}: {field_name}: {text}" if field_name else f"{where}: {text}")


# ------------------------------------------------------------------------------------------ cell parsers


class Invalid(ValueError):
    """A cell that does not parse; the message says what is wrong, never what was there."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be text")
    if len(value) > MAX_TEXT:
        raise Invalid(f"is too long (at most {MAX_TEXT} characters)")
    return value


def _day(value: Any) -> date:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid("must be a date as YYYY-MM-DD")


def _clock(value: Any) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise Invalid("must be a time as HH:MM (24-hour clock)")


TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.casefold() in TRUE_WORDS | FALSE_WORDS:
        return value.casefold() in TRUE_WORDS
    raise Invalid("must be true or false (or yes/no, 1/0)")


def _whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,9}", value):
        return int(value)
    raise Invalid("must be a whole number")


def _between(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _whole(value)
        if number < low or (high is not None and number > high):
            raise Invalid(
                f"must be a whole number from {low} to {high}" if high is not None else f"must be {low} or more"
            )
        return number

    return parse


def _number(value: Any) -> float:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    written = isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", value) is not None
    number = float(value) if numeric or written else math.nan
    if not math.isfinite(number):
        raise Invalid("must be a number")
    return number


def _degrees(limit: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = _number(value)
        if not -limit <= number <= limit:
            raise Invalid(f"must be a number from {-limit:g} to {limit:g}")
        return number

    return parse


def _ref(value: Any) -> str:
    """A booking reference: text, or a whole number as a JSON exporter may write it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _phone(value: Any) -> str:
    text = _text(value)
    digits = sum(char.isdigit() for char in text)
    if not re.fullmatch(r"\+?[\d\s().-]+", text) or not 10 <= digits <= 15:
        raise Invalid("must be a phone number (10 to 15 digits, e.g. +1 720 555 0100)")
    return text


def _choice(options: Iterable[str]) -> Callable[[Any], str]:
    canonical = {option.casefold(): option for option in options}

    def parse(value: Any) -> str:
        if isinstance(value, str) and value.casefold() in canonical:
            return canonical[value.casefold()]
        raise Invalid("must be one of " + ", ".join(canonical.values()))

    return parse


@dataclass(frozen=True)
class Spec:
    parse: Callable[[Any], Any]
    required: bool = True
    default: Any = None


BOOKING_FIELDS: dict[str, Spec] = {
    "booking_ref": Spec(_ref),
    "date": Spec(_day),
    "window_start": Spec(_clock),
    "window_end": Spec(_clock),
    "address": Spec(_text),
    "kind": Spec(_choice(kind.value for kind in PlaceKind)),
    "lat": Spec(_degrees(90), required=False),
    "lon": Spec(_degrees(180), required=False),
    "access_notes": Spec(_text, required=False, default=""),
    "patient_name": Spec(_text),
    "patient_phone": Spec(_phone),
    "patient_dob": Spec(_day),
    "service": Spec(lambda value: _text(value).casefold()),
    "first_visit": Spec(_flag, required=False, default=False),
    **{question: Spec(_flag, required=False) for question in SCREENING},
    "preferred_medic_id": Spec(_between(1), required=False),
    "priority": Spec(_between(1, 10), required=False, default=1),
}

#: fields that describe the booking, not the patient: the rows of one group must agree on them
GROUP_FIELDS = (
    "date",
    "window_start",
    "window_end",
    "address",
    "kind",
    "lat",
    "lon",
    "access_notes",
    "preferred_medic_id",
    "priority",
)

MEDIC_FIELDS: dict[str, Spec] = {
    "name": Spec(_text),
    "role": Spec(_choice(role.value for role in Role)),
    "home_address": Spec(_text),
    "home_lat": Spec(_degrees(90)),
    "home_lon": Spec(_degrees(180)),
    "pumps": Spec(_between(0), required=False, default=4),
    **{f"stock_{item}": Spec(_between(0), required=False, default=0) for item in STOCK_ITEMS},
    "licence_expires": Spec(_day),
    "iv_certification_expires": Spec(_day),
    "shift_date": Spec(_day, required=False),
    "shift_start": Spec(_clock, required=False),
    "shift_end": Spec(_clock, required=False),
}

SHIFT_FIELDS = ("shift_date", "shift_start", "shift_end")


# ------------------------------------------------------------------------------------------ reading a file


@dataclass
class Row:
    number: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def fail(self, field_name: str, text: str) -> None:
        self.errors.append(row_error(self.number, field_name, text))

    def ok(self, *names: str) -> bool:
        """Every named field parsed (a blank optional field counts, as None)."""
        failed = {error.field for error in self.errors}
        return not failed.intersection(names)


def _shown(name: str, position: int, what: str = "column") -> str:
    """A column name as it may appear in a report: only if it looks like a field name."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", name) else f"{what} {position}"


def _read(path: Path, specs: Mapping[str, Spec]) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """(row number, cells) for each data row, and the problems with the file or its header."""
    suffix = path.suffix.casefold()
    if suffix not in {".csv", ".json"}:
        return [], [row_error(0, "", "must be a .csv or .json file")]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return [], [row_error(0, "", "is not UTF-8 text")]
    except OSError as error:
        return [], [row_error(0, "", f"cannot be read ({error.strerror or type(error).__name__})")]
    rows, errors = _read_csv(text, specs) if suffix == ".csv" else _read_json(text, specs)
    if not rows and not errors:
        errors.append(row_error(0, "", "holds no rows"))
    return rows, errors


def _read_csv(text: str, specs: Mapping[str, Spec]) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        # the csv module's messages describe the syntax ("unexpected end of data"), never a cell
        return [], [row_error(0, "", f"is not valid CSV ({error})")]
    if not records:
        return [], []
    header = [name.strip() for name in records[0]]
    errors: list[RowError] = []
    known = [name for name in header if name in specs]
    if not known:
        listed = ", ".join(specs)
        return [], [row_error(1, "", f"must be a header row naming the columns ({listed})")]
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name in seen:
            errors.append(row_error(1, _shown(name, position), "column appears twice"))
        elif name and name not in specs:
            errors.append(row_error(1, _shown(name, position), "unknown column"))
        seen.add(name)
    for name, spec in specs.items():
        if spec.required and name not in seen:
            errors.append(row_error(1, name, MISSING_COLUMN))
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line, or a spreadsheet's empty trailing row
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
            errors.append(row_error(number, "", "has more cells than the header has columns"))
        cells = {name: cell for name, cell in zip(header, record, strict=False) if name in specs}
        rows.append((number, cells))
    return rows, errors


def _read_json(text: str, specs: Mapping[str, Spec]) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [row_error(0, "", f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")]
    except RecursionError:
        return [], [row_error(0, "", "is not valid JSON (nested too deeply)")]
    if not isinstance(document, list):
        return [], [row_error(0, "", "must hold a JSON list of objects")]
    rows, errors = [], []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            errors.append(row_error(number, "", "must be an object"))
            continue
        for position, name in enumerate(item, start=1):
            if name not in specs:
                errors.append(row_error(number, _shown(name, position, "field"), "unknown field"))
        rows.append((number, {name: value for name, value in item.items() if name in specs}))
    return rows, errors


def _parse(number: int, cells: Mapping[str, Any], specs: Mapping[str, Spec], missing_columns: set[str]) -> Row:
    """Each field parsed on its own, so one bad cell does not hide the others."""
    row = Row(number)
    for name, spec in specs.items():
        value = cells.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if spec.required and name not in missing_columns:
                row.fail(name, "is required")
            row.values[name] = None if spec.required else spec.default
            continue
        try:
            row.values[name] = spec.parse(value)
        except Invalid as error:
            row.fail(name, str(error))
            row.values[name] = None
    return row


def _rows(path: Path, specs: Mapping[str, Spec]) -> tuple[list[Row], list[RowError]]:
    raw, errors = _read(path, specs)
    # a required column missing from the header is reported once, on row 1, not again on every row
    missing = {error.field for error in errors if error.row == 1 and error.message.endswith(MISSING_COLUMN)}
    return [_parse(number, cells, specs, missing) for number, cells in raw], errors


def _local(day: date, clock: time) -> datetime | None:
    """``clock`` on ``day`` in Denver, or None for a time the daylight-saving change skips."""
    moment = datetime.combine(day, clock, DENVER)
    if moment.astimezone(UTC).astimezone(DENVER).replace(tzinfo=None) != datetime.combine(day, clock):
        return None
    return moment


def _span(row: Row, day_field: str, start_field: str, end_field: str) -> tuple[datetime, datetime] | None:
    """The start and end as aware datetimes, or None after recording what is wrong."""
    values = row.values
    names = (day_field, start_field, end_field)
    if not row.ok(*names) or any(values[name] is None for name in names):
        return None
    start = _local(values[day_field], values[start_field])
    end = _local(values[day_field], values[end_field])
    for name, moment in ((start_field, start), (end_field, end)):
        if moment is None:
            row.fail(name, "does not exist on that day (the clocks spring forward)")
    if start is None or end is None:
        return None
    if end <= start:
        row.fail(end_field, f"must be after {start_field}")
        return None
    return start, end


def _finish(rows: list[Row], file_errors: list[RowError], specs: Mapping[str, Spec]) -> list[RowError]:
    """Every error, by row, and within a row in the order of the fields."""
    order = {name: position for position, name in enumerate(specs, start=1)}
    errors = file_errors + [error for row in rows for error in row.errors]
    return sorted(errors, key=lambda error: (error.row, order.get(error.field, 0)))


def _today(today: date | None) -> date:
    return today if today is not None else datetime.now(DENVER).date()


# ------------------------------------------------------------------------------------------ bookings


def display_name(full_name: str) -> str:
    """First name and the initial of the last, e.g. "Dana R."; a single name as it is."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip()
    return f"{parts[0]} {parts[-1][0].upper()}."


def import_bookings(
    session: Session,
    path: Path,
    *,
    geocoder: Geocoder | None = None,
    today: date | None = None,
    area: tuple[float, float, float, float] | None = None,
) -> ImportReport:
    """Check every row of ``path``; if all are good, add the bookings to ``session`` (the caller commits).

    Rows sharing a ``booking_ref`` are one group booking at one place and window. Given
    coordinates must lie in ``area`` (default: the default geocoder service area) and make the
    place GIVEN; without them the place is geocoded if ``geocoder`` is given (a failure leaves
    it FAILED, flagged for the dispatcher, and the booking is kept) or left PENDING.
    """
    day0 = _today(today)
    bbox = area if area is not None else GeocoderSettings().bbox
    rows, file_errors = _rows(Path(path), BOOKING_FIELDS)

    codes = set(session.exec(select(Service.code)).all()) | {entry[0] for entry in DEFAULT_SERVICES}
    medic_ids = {row.values["preferred_medic_id"] for row in rows if row.values.get("preferred_medic_id")}
    known_medics = set(session.exec(select(Medic.id).where(col(Medic.id).in_(medic_ids))).all()) if medic_ids else set()

    for row in rows:
        _check_booking_row(row, day0, bbox, codes, known_medics)
    groups = _group(rows)

    errors = _finish(rows, file_errors, BOOKING_FIELDS)
    if errors:
        return ImportReport(0, errors)

    seed_services(session)
    session.flush()
    services = {service.code: service for service in session.exec(select(Service)).all()}
    for members in groups.values():
        _add_booking(session, members, services, geocoder)
    session.flush()
    return ImportReport(len(groups), [])


def _check_booking_row(
    row: Row, today: date, bbox: tuple[float, float, float, float], codes: set[str], medics: set[int]
) -> None:
    values = row.values
    if values["date"] is not None and values["date"] < today:
        row.fail("date", "is a past day")
    _span(row, "date", "window_start", "window_end")
    lat, lon = values["lat"], values["lon"]
    if row.ok("lat", "lon"):
        if lat is not None and lon is None:
            row.fail("lon", "is required when lat is given (give both or neither)")
        elif lon is not None and lat is None:
            row.fail("lat", "is required when lon is given (give both or neither)")
        elif lat is not None and lon is not None and not inside(bbox, lat, lon):
            south, west, north, east = bbox
            if not south <= lat <= north:
                row.fail("lat", f"is outside the service area (latitude {south:g} to {north:g})")
            if not west <= lon <= east:
                row.fail("lon", f"is outside the service area (longitude {west:g} to {east:g})")
    dob = values["patient_dob"]
    if dob is not None and dob >= today:
        row.fail("patient_dob", "must be in the past")
    elif dob is not None and dob.year < today.year - 130:
        row.fail("patient_dob", "is more than 130 years ago")
    if values["service"] is not None and values["service"] not in codes:
        row.fail("service", "is not a service code; known codes: " + ", ".join(sorted(codes)))
    medic = values["preferred_medic_id"]
    if medic is not None and medic not in medics:
        row.fail("preferred_medic_id", "is not the id of a medic")


def _same(name: str, first: Any, other: Any) -> bool:
    if name == "address" and isinstance(first, str) and isinstance(other, str):
        return normalise_query(first) == normalise_query(other)
    return bool(first == other)


def _group(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows by booking_ref, in file order; a row that disagrees with its group's first row on a
    booking field gets an error on that field."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        if row.values["booking_ref"] is not None:
            groups.setdefault(row.values["booking_ref"], []).append(row)
    for members in groups.values():
        first = members[0]
        for row in members[1:]:
            for name in GROUP_FIELDS:
                if row.ok(name) and first.ok(name) and not _same(name, first.values[name], row.values[name]):
                    row.fail(name, f"differs from row {first.number}, the first row of the same booking_ref")
    return groups


def _add_booking(
    session: Session, members: list[Row], services: dict[str, Service], geocoder: Geocoder | None
) -> Booking:
    head = members[0].values
    given = head["lat"] is not None and head["lon"] is not None
    place = Place(
        address=head["address"],
        kind=PlaceKind(head["kind"]),
        lat=head["lat"],
        lon=head["lon"],
        access_notes=head["access_notes"],
        geocode_status=GeocodeStatus.GIVEN if given else GeocodeStatus.PENDING,
    )
    session.add(place)
    session.flush()
    if not given and geocoder is not None:
        geocode_place(session, place, geocoder)
    start = _local(head["date"], head["window_start"])
    end = _local(head["date"], head["window_end"])
    assert place.id is not None and start is not None and end is not None
    booking = Booking(
        place_id=place.id,
        service_date=head["date"],
        window_start=start,
        window_end=end,
        preferred_medic_id=head["preferred_medic_id"],
        priority=head["priority"],
    )
    session.add(booking)
    session.flush()
    assert booking.id is not None
    flagged = False
    for member in members:
        values = member.values
        patient = Patient(
            full_name=values["patient_name"],
            display_name=display_name(values["patient_name"]),
            phone=values["patient_phone"],
            date_of_birth=values["patient_dob"],
            # only the questions answered: an unanswered question is not a "no"
            screening={question: values[question] for question in SCREENING if values[question] is not None},
        )
        session.add(patient)
        session.flush()
        assert patient.id is not None
        service = services[values["service"]]
        assert service.id is not None
        flagged = flagged or bool(clearance_flags(patient, service))
        session.add(
            BookingPatient(
                booking_id=booking.id, patient_id=patient.id, service_id=service.id, first_visit=values["first_visit"]
            )
        )
    booking.status = BookingStatus.NEEDS_CLEARANCE if flagged else BookingStatus.REQUESTED
    return booking


# ------------------------------------------------------------------------------------------ medics


def import_medics(session: Session, path: Path, *, today: date | None = None) -> ImportReport:
    """Check every row of ``path``; if all are good, add one medic per row (home place, licence and
    IV-certification credentials, and at most one shift) to ``session`` (the caller commits)."""
    day0 = _today(today)
    rows, file_errors = _rows(Path(path), MEDIC_FIELDS)
    for row in rows:
        _check_medic_row(row, day0)
    errors = _finish(rows, file_errors, MEDIC_FIELDS)
    if errors:
        return ImportReport(0, errors)
    for row in rows:
        _add_medic(session, row.values)
    session.flush()
    return ImportReport(len(rows), [])


def _check_medic_row(row: Row, today: date) -> None:
    values = row.values
    if not row.ok(*SHIFT_FIELDS):
        return
    given = [name for name in SHIFT_FIELDS if values[name] is not None]
    if given and len(given) < len(SHIFT_FIELDS):
        for name in SHIFT_FIELDS:
            if values[name] is None:
                row.fail(name, "is required when another shift field is given (give all three or none)")
        return
    if given:
        if values["shift_date"] < today:
            row.fail("shift_date", "is a past day")
        _span(row, "shift_date", "shift_start", "shift_end")


def _add_medic(session: Session, values: dict[str, Any]) -> Medic:
    home = Place(
        address=values["home_address"],
        kind=PlaceKind.HOME,
        lat=values["home_lat"],
        lon=values["home_lon"],
        geocode_status=GeocodeStatus.GIVEN,
    )
    session.add(home)
    session.flush()
    assert home.id is not None
    role = Role(values["role"])
    medic = Medic(
        name=values["name"],
        role=role,
        skills=list(ROLE_SKILLS[role]),
        home_place_id=home.id,
        stock={item: values[f"stock_{item}"] for item in STOCK_ITEMS},
        pumps=values["pumps"],
    )
    session.add(medic)
    session.flush()
    assert medic.id is not None
    session.add(Credential(medic_id=medic.id, kind="licence", expires_on=values["licence_expires"]))
    session.add(Credential(medic_id=medic.id, kind="iv_certification", expires_on=values["iv_certification_expires"]))
    if values["shift_date"] is not None:
        start = _local(values["shift_date"], values["shift_start"])
        end = _local(values["shift_date"], values["shift_end"])
        assert start is not None and end is not None
        session.add(ShiftRow(medic_id=medic.id, service_date=values["shift_date"], starts_at=start, ends_at=end))
    return medic

"""Reading an import file: CSV or JSON rows, each cell parsed and each row checked.

A file is checked whole before anything is written (:mod:`dispatch.intake.apply` writes):
every row is validated, and every problem is reported as a :class:`RowError`.

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

from dispatch.records.fields import clean_text, phone_number
from dispatch.records.geocode import inside, normalise_query
from dispatch.store.tables import PlaceKind, Role

#: the screening questions a booking row may answer
SCREENING = ("kidney_disease", "arrhythmia", "interacting_medication")
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
    try:
        return clean_text(value)
    except ValueError as error:
        raise Invalid(str(error)) from None


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
    try:
        return phone_number(_text(value))
    except ValueError as error:
        raise Invalid(str(error)) from None


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
    "alt_window_start": Spec(_clock, required=False),
    "alt_window_end": Spec(_clock, required=False),
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
    "alt_window_start",
    "alt_window_end",
    "address",
    "kind",
    "lat",
    "lon",
    "access_notes",
    "preferred_medic_id",
    "priority",
)

MEDIC_FIELDS: dict[str, Spec] = {
    #: the medic's id in the file's system; a new import with the same one updates the medic
    "medic_ref": Spec(_ref, required=False),
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


def read_rows(path: Path, specs: Mapping[str, Spec]) -> tuple[list[Row], list[RowError]]:
    """Every data row of ``path`` parsed against ``specs``, and the problems of the file itself."""
    raw, errors = _read(path, specs)
    # a required column missing from the header is reported once, on row 1, not again on every row
    missing = {error.field for error in errors if error.row == 1 and error.message.endswith(MISSING_COLUMN)}
    return [_parse(number, cells, specs, missing) for number, cells in raw], errors


def local(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """``clock`` on ``day`` in ``zone``, or None for a time the daylight-saving change skips."""
    moment = datetime.combine(day, clock, zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != datetime.combine(day, clock):
        return None
    return moment


def span(
    row: Row, day_field: str, start_field: str, end_field: str, zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The start and end as aware datetimes, or None after recording what is wrong."""
    values = row.values
    names = (day_field, start_field, end_field)
    if not row.ok(*names) or any(values[name] is None for name in names):
        return None
    start = local(values[day_field], values[start_field], zone)
    end = local(values[day_field], values[end_field], zone)
    for name, moment in ((start_field, start), (end_field, end)):
        if moment is None:
            row.fail(name, "does not exist on that day (the clocks spring forward)")
    if start is None or end is None:
        return None
    if end <= start:
        row.fail(end_field, f"must be after {start_field}")
        return None
    return start, end


def finish(rows: list[Row], file_errors: list[RowError], specs: Mapping[str, Spec]) -> list[RowError]:
    """Every error, by row, and within a row in the order of the fields."""
    order = {name: position for position, name in enumerate(specs, start=1)}
    errors = file_errors + [error for row in rows for error in row.errors]
    return sorted(errors, key=lambda error: (error.row, order.get(error.field, 0)))


# ------------------------------------------------------------------------------------------ checking rows


def check_booking_row(
    row: Row,
    *,
    today: date,
    zone: ZoneInfo,
    area: tuple[float, float, float, float],
    codes: set[str],
    medics: set[int],
) -> None:
    """The checks a booking row needs on its own: a coming day, its windows, coordinates inside the
    service area, a past date of birth, a known service and a known preferred medic."""
    values = row.values
    if values["date"] is not None and values["date"] < today:
        row.fail("date", "is a past day")
    window = span(row, "date", "window_start", "window_end", zone)
    given = [name for name in ("alt_window_start", "alt_window_end") if values[name] is not None]
    if row.ok("alt_window_start", "alt_window_end") and len(given) == 1:
        missing = "alt_window_end" if given == ["alt_window_start"] else "alt_window_start"
        row.fail(missing, "is required when the other end of the second window is given (give both or neither)")
    elif len(given) == 2:
        second = span(row, "date", "alt_window_start", "alt_window_end", zone)
        if window is not None and second is not None and second[0] <= window[1] and window[0] <= second[1]:
            row.fail("alt_window_start", "must not overlap the first window (window_start to window_end)")
    lat, lon = values["lat"], values["lon"]
    if row.ok("lat", "lon"):
        if lat is not None and lon is None:
            row.fail("lon", "is required when lat is given (give both or neither)")
        elif lon is not None and lat is None:
            row.fail("lat", "is required when lon is given (give both or neither)")
        elif lat is not None and lon is not None and not inside(area, lat, lon):
            south, west, north, east = area
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
        known = ", ".join(sorted(codes)) or "none: the catalogue is empty (dripline catalogue seed)"
        row.fail("service", f"is not a service code; known codes: {known}")
    medic = values["preferred_medic_id"]
    if medic is not None and medic not in medics:
        row.fail("preferred_medic_id", "is not the id of a medic")


def _same(name: str, first: Any, other: Any) -> bool:
    if name == "address" and isinstance(first, str) and isinstance(other, str):
        return normalise_query(first) == normalise_query(other)
    return bool(first == other)


def group_rows(rows: list[Row]) -> dict[str, list[Row]]:
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


def check_medic_row(row: Row, *, today: date, zone: ZoneInfo) -> None:
    """A medic row's shift: all three shift fields or none, on a coming day, ending after it starts."""
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
        span(row, "shift_date", "shift_start", "shift_end", zone)


def check_unique_refs(rows: list[Row], field_name: str) -> None:
    """No two rows of a medics file name the same reference (a booking's rows share one on purpose)."""
    first: dict[str, int] = {}
    for row in rows:
        ref = row.values.get(field_name)
        if ref is None:
            continue
        if ref in first:
            row.fail(field_name, f"repeats row {first[ref]}: each medic is one row")
        else:
            first[ref] = row.number

"""Importing bookings and medics from CSV and JSON files: all-or-nothing, errors without patient data."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from geopy.exc import GeocoderTimedOut
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch.intake import ImportReport, import_bookings, import_medics
from dispatch.records.bookings import display_name
from dispatch.records.catalogue import seed_services
from dispatch.records.validation import Policy
from dispatch.store.config import GeocoderSettings
from dispatch.store.db import session_scope
from dispatch.store.tables import (
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
    ShiftRow,
)
from tests.factory import medic
from tests.helpers import DENVER

TODAY = date(2026, 12, 1)
DAY = "2026-12-02"

BOOKING_COLUMNS = [
    "booking_ref",
    "date",
    "window_start",
    "window_end",
    "address",
    "kind",
    "lat",
    "lon",
    "access_notes",
    "patient_name",
    "patient_phone",
    "patient_dob",
    "service",
    "first_visit",
    "kidney_disease",
    "arrhythmia",
    "interacting_medication",
    "preferred_medic_id",
    "priority",
]

OFFICE = {
    "booking_ref": "A-100",
    "date": DAY,
    "window_start": "09:00",
    "window_end": "12:00",
    "address": "1701 Wynkoop St, Denver, CO 80202",
    "kind": "office",
    "lat": "39.7527",
    "lon": "-105.0001",
    "access_notes": "lobby check-in",
}
GROUP = [
    {
        **OFFICE,
        "patient_name": "Dana Reyes",
        "patient_phone": "+1 720 555 0142",
        "patient_dob": "1988-04-12",
        "service": "hydration",
        "first_visit": "yes",
    },
    {
        **OFFICE,
        "patient_name": "Sam Okafor",
        "patient_phone": "(720) 555-0143",
        "patient_dob": "1979-11-30",
        "service": "nad",
        "first_visit": "no",
    },
    {
        **OFFICE,
        "patient_name": "Quinn Larsen",
        "patient_phone": "720.555.0144",
        "patient_dob": "1992-07-04",
        "service": "myers",
    },
]
HOME = {
    "booking_ref": "B-200",
    "date": DAY,
    "window_start": "13:00",
    "window_end": "15:00",
    "address": "2500 Pearl St, Boulder, CO 80302",
    "kind": "home",
    "patient_name": "Riley Haddad",
    "patient_phone": "+1-303-555-0199",
    "patient_dob": "1990-02-28",
    "service": "b12",
    "priority": "3",
}
#: every patient value in the fixtures, none of which may appear in an error message
PATIENT_VALUES = [
    value
    for row in [*GROUP, HOME]
    for key, value in row.items()
    if key in {"address", "access_notes", "patient_name", "patient_phone", "patient_dob"}
] + ["Dana", "Reyes", "720-555-01", "2030-01-01"]


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] = BOOKING_COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(session: Session, table: type) -> int:
    return len(session.exec(select(table)).all())


def assert_nothing_written(engine: Engine) -> None:
    with Session(engine) as session:
        for table in (Booking, BookingPatient, Patient, Place, Medic, Credential, ShiftRow):
            assert count(session, table) == 0, table.__name__


def policy(geocoder: Any = None) -> Policy:
    return Policy(TODAY, DENVER, GeocoderSettings().bbox, geocoder)


def run_bookings(engine: Engine, path: Path, geocoder: Any = None, source: str = "import") -> ImportReport:
    """Import with the catalogue seeded (as `dripline catalogue seed` does) and the file rolled back when it fails."""
    with session_scope(engine) as session:
        seed_services(session)
        session.flush()
        report = import_bookings(session, path, policy=policy(geocoder), source=source)
        if not report.ok:
            session.rollback()
        return report


def run_medics(engine: Engine, path: Path, source: str = "import") -> ImportReport:
    with session_scope(engine) as session:
        report = import_medics(session, path, policy=policy(), source=source)
        if not report.ok:
            session.rollback()
        return report


def test_import_bookings_csv_group_makes_one_booking_with_three_patients(engine: Engine, tmp_path: Path) -> None:
    """Three rows sharing a ref are one office booking with three patients; a lone row is a second booking."""
    report = run_bookings(engine, write_csv(tmp_path / "bookings.csv", [*GROUP, HOME]))
    assert report == ImportReport(created=2)
    with Session(engine) as session:
        office, home = session.exec(select(Booking).order_by(Booking.id)).all()
        members = session.exec(select(BookingPatient).where(BookingPatient.booking_id == office.id)).all()
        assert len(members) == 3
        assert [m.first_visit for m in members] == [True, False, False]
        assert (office.window_start, office.window_end) == (
            datetime(2026, 12, 2, 16, 0, tzinfo=UTC),
            datetime(2026, 12, 2, 19, 0, tzinfo=UTC),
        )
        assert office.status is BookingStatus.REQUESTED and home.priority == 3
        site = session.get(Place, office.place_id)
        assert site is not None and site.kind is PlaceKind.OFFICE and site.geocode_status is GeocodeStatus.GIVEN
        assert (site.lat, site.lon, site.access_notes) == (39.7527, -105.0001, "lobby check-in")
        far = session.get(Place, home.place_id)
        assert far is not None and far.geocode_status is GeocodeStatus.PENDING and far.lat is None
        names = [p.display_name for p in session.exec(select(Patient).order_by(Patient.id)).all()]
        assert names == ["Dana R.", "Sam O.", "Quinn L.", "Riley H."]
        assert (office.source, office.external_ref, home.external_ref) == ("import", "A-100", "B-200")


def test_import_bookings_json_list_matches_csv(engine: Engine, tmp_path: Path) -> None:
    """A JSON list of the same objects (native numbers and booleans too) gives the same bookings."""
    rows: list[dict[str, Any]] = [dict(row) for row in [*GROUP, HOME]]
    rows[0].update(lat=39.7527, lon=-105.0001, first_visit=True)
    path = tmp_path / "bookings.json"
    path.write_text(json.dumps(rows))
    assert run_bookings(engine, path) == ImportReport(created=2)
    with Session(engine) as session:
        assert count(session, Booking) == 2 and count(session, BookingPatient) == 4
        assert count(session, Place) == 2


def test_import_bookings_bad_rows_report_every_row_and_field_and_write_nothing(engine: Engine, tmp_path: Path) -> None:
    """Each kind of bad row gets an error naming its row and field; one bad file writes nothing at all."""
    base = {**GROUP[0], "booking_ref": "G-1"}
    bad: list[tuple[dict[str, str], str]] = [
        ({"date": "2026-13-40"}, "date"),
        ({"window_end": "08:00"}, "window_end"),
        ({"service": "botox"}, "service"),
        ({"lat": "95"}, "lat"),
        ({"lat": "39.75", "lon": ""}, "lon"),
        ({"patient_phone": "720-555-01"}, "patient_phone"),
        ({"date": "2026-11-30"}, "date"),
        ({"booking_ref": "G-1", "window_start": "10:00"}, "window_start"),
        ({"preferred_medic_id": "999"}, "preferred_medic_id"),
        ({"priority": "11"}, "priority"),
        ({"kind": "castle"}, "kind"),
        ({"lat": "45.0"}, "lat"),
        ({"patient_dob": "2030-01-01"}, "patient_dob"),
        ({"first_visit": "maybe"}, "first_visit"),
        ({"patient_name": ""}, "patient_name"),
    ]
    rows = [base] + [{**base, "booking_ref": f"X-{k}", **change} for k, (change, _) in enumerate(bad)]
    report = run_bookings(engine, write_csv(tmp_path / "bad.csv", rows))
    assert report.created == 0
    assert {(e.row, e.field) for e in report.errors} == {(k + 3, name) for k, (_, name) in enumerate(bad)}
    for error in report.errors:
        assert error.message.startswith(f"row {error.row}: {error.field}: ")
    assert_nothing_written(engine)


def test_import_bookings_error_messages_never_echo_patient_data(engine: Engine, tmp_path: Path) -> None:
    """Errors on names, phones, addresses and birth dates say what is wrong without the value."""
    rows = [
        {**GROUP[0], "patient_phone": "720-555-01"},
        {**GROUP[1], "patient_dob": "2030-01-01", "address": "1701 Wynkoop St, Denver, CO 80202 x"},
        {**GROUP[2], "patient_name": "x" * 600},
        {**HOME, "patient_dob": "12/02/1990", "kind": "Dana Reyes"},
    ]
    report = run_bookings(engine, write_csv(tmp_path / "bad.csv", rows))
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "patient_phone"),
        (3, "address"),
        (3, "patient_dob"),
        (4, "patient_name"),
        (5, "kind"),
        (5, "patient_dob"),
    ]
    for error in report.errors:
        assert not [value for value in PATIENT_VALUES if value in error.message], error.message
        assert "x" * 20 not in error.message and "12/02/1990" not in error.message
    assert_nothing_written(engine)


def test_import_bookings_unknown_column_is_reported_on_the_header_row(engine: Engine, tmp_path: Path) -> None:
    """An unknown CSV column is an error on row 1 naming it; an unknown JSON field names its object."""
    path = write_csv(tmp_path / "extra.csv", [{**HOME, "colour": "red"}], [*BOOKING_COLUMNS, "colour"])
    report = run_bookings(engine, path)
    assert [(e.row, e.field) for e in report.errors] == [(1, "colour")]
    json_path = tmp_path / "extra.json"
    json_path.write_text(json.dumps([HOME, {**HOME, "colour": "red"}, {**HOME, "service": "botox"}]))
    report = run_bookings(engine, json_path)
    assert [(e.row, e.field) for e in report.errors] == [(2, "colour"), (3, "service")]
    assert_nothing_written(engine)


def test_import_bookings_missing_column_is_reported_once(engine: Engine, tmp_path: Path) -> None:
    """A required column absent from the header is one error on row 1, not one per row."""
    columns = [name for name in BOOKING_COLUMNS if name != "patient_phone"]
    rows = [{k: v for k, v in row.items() if k != "patient_phone"} for row in GROUP]
    report = run_bookings(engine, write_csv(tmp_path / "short.csv", rows, columns))
    assert [(e.row, e.field) for e in report.errors] == [(1, "patient_phone")]


def test_import_bookings_conflicting_group_rows_name_the_field(engine: Engine, tmp_path: Path) -> None:
    """Rows of one ref that disagree on the place or window get an error on the disagreeing field."""
    rows = [GROUP[0], {**GROUP[1], "kind": "hotel"}, {**GROUP[2], "lon": "-105.01", "date": "2026-12-03"}]
    report = run_bookings(engine, write_csv(tmp_path / "conflict.csv", rows))
    assert [(e.row, e.field) for e in report.errors] == [(3, "kind"), (4, "date"), (4, "lon")]
    assert "row 2" in report.errors[0].message
    assert_nothing_written(engine)


def test_import_bookings_magnesium_with_kidney_disease_needs_clearance(engine: Engine, tmp_path: Path) -> None:
    """Magnesium for a patient with kidney disease holds the booking; the same answer with hydration does not."""
    rows = [
        {**HOME, "booking_ref": "M-1", "service": "magnesium", "kidney_disease": "yes"},
        {**HOME, "booking_ref": "M-2", "service": "magnesium", "kidney_disease": "no"},
        {**HOME, "booking_ref": "H-1", "service": "hydration", "kidney_disease": "true"},
    ]
    assert run_bookings(engine, write_csv(tmp_path / "screening.csv", rows)).created == 3
    with Session(engine) as session:
        statuses = [b.status for b in session.exec(select(Booking).order_by(Booking.id)).all()]
        assert statuses == [BookingStatus.NEEDS_CLEARANCE, BookingStatus.REQUESTED, BookingStatus.REQUESTED]
        first = session.exec(select(Patient).order_by(Patient.id)).first()
        assert first is not None and first.screening == {"kidney_disease": True}


class TimingOutGeocoder:
    provider = "test"
    bbox = (38.9, -107.0, 40.6, -104.3)

    def __init__(self) -> None:
        self.calls = 0

    def lookup(self, query: str) -> tuple[float, float] | None:
        self.calls += 1
        raise GeocoderTimedOut("timed out")


def test_import_bookings_geocoder_failure_keeps_booking_with_place_failed(engine: Engine, tmp_path: Path) -> None:
    """A timeout flags the place FAILED and keeps the booking; given coordinates are never looked up."""
    geocoder = TimingOutGeocoder()
    report = run_bookings(engine, write_csv(tmp_path / "bookings.csv", [*GROUP, HOME]), geocoder=geocoder)
    assert report == ImportReport(created=2) and geocoder.calls == 1
    with Session(engine) as session:
        statuses = {(p.geocode_status, p.geocode_problem) for p in session.exec(select(Place)).all()}
        assert statuses == {(GeocodeStatus.GIVEN, None), (GeocodeStatus.FAILED, "timeout")}


def test_import_bookings_preferred_medic_that_exists_is_kept(engine: Engine, tmp_path: Path) -> None:
    """A preferred_medic_id naming a medic on file is stored on the booking."""
    with session_scope(engine) as session:
        medic_id = medic(session).id
    assert run_bookings(engine, write_csv(tmp_path / "b.csv", [{**HOME, "preferred_medic_id": str(medic_id)}])).created
    with Session(engine) as session:
        assert session.exec(select(Booking)).one().preferred_medic_id == medic_id


def test_build_display_name_from_first_name_and_last_initial() -> None:
    """A display name is the first name and the last name's initial; a single name stays as it is."""
    assert [display_name(n) for n in ["Dana Reyes", "Mary Ann smith", "Cher"]] == ["Dana R.", "Mary S.", "Cher"]


MEDIC_COLUMNS = [
    "name",
    "role",
    "home_address",
    "home_lat",
    "home_lon",
    "pumps",
    "stock_saline_bag",
    "stock_nad_vial",
    "stock_magnesium_vial",
    "licence_expires",
    "iv_certification_expires",
    "shift_date",
    "shift_start",
    "shift_end",
]
NURSE = {
    "name": "Jordan Kim",
    "role": "RN",
    "home_address": "1 Test St, Denver, CO",
    "home_lat": "39.74",
    "home_lon": "-104.99",
    "pumps": "3",
    "stock_saline_bag": "12",
    "stock_nad_vial": "2",
    "stock_magnesium_vial": "4",
    "licence_expires": "2027-06-30",
    "iv_certification_expires": "2027-03-31",
    "shift_date": DAY,
    "shift_start": "08:00",
    "shift_end": "17:00",
}


def test_import_medics_csv_creates_medic_credentials_and_shift(engine: Engine, tmp_path: Path) -> None:
    """A medic row gives a medic with a home, a licence and an IV certification, and its shift."""
    paramedic = {**NURSE, "name": "Avery Sato", "role": "paramedic", "pumps": "", "shift_date": "", "shift_start": ""}
    paramedic["shift_end"] = ""
    path = write_csv(tmp_path / "medics.csv", [NURSE, paramedic], MEDIC_COLUMNS)
    assert run_medics(engine, path) == ImportReport(created=2)
    with Session(engine) as session:
        nurse, medic_two = session.exec(select(Medic).order_by(Medic.id)).all()
        assert (nurse.role, nurse.pumps, medic_two.role, medic_two.pumps) == (Role.RN, 3, Role.PARAMEDIC, 4)
        assert nurse.stock == {"saline_bag": 12, "nad_vial": 2, "magnesium_vial": 4}
        kinds = session.exec(select(Credential.kind, Credential.expires_on).where(Credential.medic_id == nurse.id))
        assert sorted(kinds.all()) == [("iv_certification", date(2027, 3, 31)), ("licence", date(2027, 6, 30))]
        shift = session.exec(select(ShiftRow)).one()
        assert shift.medic_id == nurse.id
        assert (shift.starts_at, shift.ends_at) == (
            datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
            datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
        )
        home = session.get(Place, nurse.home_place_id)
        assert home is not None and home.geocode_status is GeocodeStatus.GIVEN and home.lat == 39.74


def test_import_medics_bad_role_and_partial_shift_report_errors(engine: Engine, tmp_path: Path) -> None:
    """An unknown role, a shift missing its end, and a shift ending before it starts are errors; nothing is written."""
    rows = [
        NURSE,
        {**NURSE, "name": "Two", "role": "doctor"},
        {**NURSE, "name": "Three", "shift_end": ""},
        {**NURSE, "name": "Four", "shift_end": "07:00", "home_lat": "91"},
    ]
    path = write_csv(tmp_path / "medics.csv", rows, MEDIC_COLUMNS)
    report = run_medics(engine, path)
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "role"),
        (4, "shift_end"),
        (5, "home_lat"),
        (5, "shift_end"),
    ]
    assert "RN, paramedic, NP" in report.errors[0].message
    assert_nothing_written(engine)


def test_import_bookings_twice_creates_nothing_twice(engine: Engine, tmp_path: Path) -> None:
    """The same file again changes nothing: both bookings unchanged, no new booking, place or patient."""
    path = write_csv(tmp_path / "bookings.csv", [*GROUP, HOME])
    assert run_bookings(engine, path) == ImportReport(created=2)
    assert run_bookings(engine, path) == ImportReport(unchanged=2)
    with Session(engine) as session:
        assert (count(session, Booking), count(session, Patient), count(session, Place)) == (2, 4, 2)


def test_import_bookings_again_updates_what_changed_and_keeps_the_patients(engine: Engine, tmp_path: Path) -> None:
    """A later window for the office booking updates it (its three patients keep their records);
    the home booking is unchanged; the same refs from another source are new bookings."""
    run_bookings(engine, write_csv(tmp_path / "bookings.csv", [*GROUP, HOME]))
    later = [{**row, "window_start": "10:00", "window_end": "13:00"} for row in GROUP]
    assert run_bookings(engine, write_csv(tmp_path / "later.csv", [*later, HOME])) == ImportReport(
        updated=1, unchanged=1
    )
    with Session(engine) as session:
        office = session.exec(select(Booking).where(Booking.external_ref == "A-100")).one()
        assert office.window_start == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
        assert count(session, Patient) == 4
    other = run_bookings(engine, write_csv(tmp_path / "crm.csv", [HOME]), source="crm")
    assert other == ImportReport(created=1)


def test_import_bookings_reads_a_second_window(engine: Engine, tmp_path: Path) -> None:
    """alt_window_start and alt_window_end give the booking a second window; one end alone is an error."""
    columns = [*BOOKING_COLUMNS, "alt_window_start", "alt_window_end"]
    two = {**HOME, "alt_window_start": "17:00", "alt_window_end": "19:00"}
    assert run_bookings(engine, write_csv(tmp_path / "two.csv", [two], columns)).created == 1
    with Session(engine) as session:
        booking = session.exec(select(Booking)).one()
        assert (booking.alt_window_start, booking.alt_window_end) == (
            datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
            datetime(2026, 12, 3, 2, 0, tzinfo=UTC),
        )
    half = {**HOME, "booking_ref": "C-1", "alt_window_start": "17:00"}
    report = run_bookings(engine, write_csv(tmp_path / "half.csv", [half], columns))
    assert [(e.row, e.field) for e in report.errors] == [(2, "alt_window_end")]


def test_import_medics_twice_updates_by_reference(engine: Engine, tmp_path: Path) -> None:
    """Medics are known by medic_ref (or by name without one): importing again with a new licence
    date updates that medic and creates nobody twice."""
    columns = ["medic_ref", *MEDIC_COLUMNS]
    path = write_csv(tmp_path / "medics.csv", [{**NURSE, "medic_ref": "HR-7"}], columns)
    assert run_medics(engine, path) == ImportReport(created=1)
    assert run_medics(engine, path) == ImportReport(unchanged=1)
    renewed = write_csv(
        tmp_path / "renewed.csv", [{**NURSE, "medic_ref": "HR-7", "licence_expires": "2028-06-30"}], columns
    )
    assert run_medics(engine, renewed) == ImportReport(updated=1)
    with Session(engine) as session:
        assert count(session, Medic) == 1 and count(session, ShiftRow) == 1
        licence = session.exec(select(Credential).where(Credential.kind == "licence")).one()
        assert licence.expires_on == date(2028, 6, 30)

"""The dispatcher's resources over HTTP: the contract's shapes, statuses, audit rows and headers (rules 3, 5, 6)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.models import (
    BookingPatientPublic,
    BookingPublic,
    MedicPublic,
    PatientPublic,
    PlacePublic,
    ServicePublic,
    ShiftPublic,
)
from dispatch.access.audit import events, verify_chain
from dispatch.store.tables import Booking, BookingStatus, Medic, Place
from tests.api_support import (
    FakeGeocoder,
    audit_count,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    dispatch_client,
    future_day,
    last_event,
    local,
    login,
    make_accounts,
)

pytestmark = pytest.mark.usefixtures("cheap_argon2")

DAY = future_day()


def medic_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Rowan Testmedic",
        "role": "RN",
        "home": {"address": "12 Medic Home St, Denver, CO", "lat": 39.745, "lon": -104.985},
        "stock": {"saline_bag": 12, "nad_vial": 2},
        "pumps": 4,
        "credentials": [
            {"kind": "licence", "expires_on": "2030-01-31"},
            {"kind": "iv_certification", "expires_on": "2029-06-30"},
        ],
        **extra,
    }


def new_patient(number: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "full_name": f"Quokka Patientname{number}",
        "phone": f"+1 720 555 01{number:02d}",
        "date_of_birth": "1985-03-04",
        "screening": {"kidney_disease": False},
        **extra,
    }


def booking_body(**extra: Any) -> dict[str, Any]:
    return {
        "service_date": DAY.isoformat(),
        "window_start": local(DAY, "09:00"),
        "window_end": local(DAY, "11:00"),
        "place": {
            "address": "401 Larkspur Testway, Denver, CO",
            "kind": "home",
            "lat": 39.75,
            "lon": -104.98,
            "access_notes": "Gate code Quokka17",
        },
        "patients": [{**new_patient(), "service": "hydration", "first_visit": True}],
        **extra,
    }


@pytest.fixture
def setup(engine: Engine) -> tuple[Any, dict[str, str], dict[str, int]]:
    """A client, a dispatcher's headers, and the account ids (an admin, a dispatcher, two medics)."""
    users = make_accounts(engine, *seed_two_medics(engine))
    client = dispatch_client(engine)
    return client, login(client, "dispatch"), users


def seed_two_medics(engine: Engine) -> tuple[int, int]:
    from dispatch.store.db import session_scope
    from tests import factory

    with session_scope(engine) as session:
        a = factory.medic(session, "Alice Medic", day=DAY)
        b = factory.medic(session, "Bob Medic", shift=None, day=DAY)
        return a.id or 0, b.id or 0


def test_post_medic_returns_the_public_fields_and_audits_a_write(engine: Engine, setup: Any) -> None:
    """POST /medics: 201 with exactly MedicPublic's fields; GET, PATCH and DELETE (deactivate) follow it."""
    client, headers, users = setup
    before = audit_count(engine)
    response = client.post("/medics", headers=headers, json=medic_body())
    assert response.status_code == 201, response.text
    medic = response.json()
    assert set(medic) == set(MedicPublic.model_fields)
    assert medic["credentials"] == medic_body()["credentials"] and medic["active"] is True
    assert audit_count(engine) == before + 1
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome, event.actor_user_id) == (
        "write", "medic", "created", users["dispatch"],
    )  # fmt: skip
    assert event.resource_ids == [medic["id"]]

    assert client.get(f"/medics/{medic['id']}", headers=headers).json() == medic
    assert medic["id"] in [m["id"] for m in client.get("/medics", headers=headers).json()]
    patched = client.patch(f"/medics/{medic['id']}", headers=headers, json={"pumps": 2, "credentials": []}).json()
    assert (patched["pumps"], patched["credentials"], patched["name"]) == (2, [], medic["name"])
    gone = client.delete(f"/medics/{medic['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert [m["id"] for m in client.get("/medics?active=false", headers=headers).json()] == [medic["id"]]


def test_post_medic_with_home_outside_the_service_area_is_422_naming_it(setup: Any) -> None:
    """A home far from Denver (inside the globe's range) is a 422 naming home.lat."""
    client, headers, _ = setup
    body = medic_body(home={"address": "Somewhere far", "lat": 47.6, "lon": -104.98})
    response = client.post("/medics", headers=headers, json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "home", "lat"]]


def test_post_shift_then_list_by_day(engine: Engine, setup: Any) -> None:
    """POST /shifts: 201 ShiftPublic in Denver time; GET /shifts?service_date= lists it; a second shift is a 409."""
    client, headers, _ = setup
    with Session(engine) as session:
        medic = session.exec(select(Medic).where(Medic.name == "Bob Medic")).one()
    body = {
        "medic_id": medic.id,
        "service_date": DAY.isoformat(),
        "starts_at": local(DAY, "08:00"),
        "ends_at": local(DAY, "16:00"),
        "hard_end_at": local(DAY, "17:30"),
    }
    response = client.post("/shifts", headers=headers, json=body)
    assert response.status_code == 201, response.text
    shift = response.json()
    assert set(shift) == set(ShiftPublic.model_fields)
    assert shift["starts_at"] == body["starts_at"] and shift["hard_end_at"] == body["hard_end_at"]
    listed = client.get(f"/shifts?service_date={DAY.isoformat()}", headers=headers).json()
    assert shift in listed and all(s["service_date"] == DAY.isoformat() for s in listed)
    assert client.post("/shifts", headers=headers, json=body).status_code == 409
    moved = client.patch(f"/shifts/{shift['id']}", headers=headers, json={"ends_at": local(DAY, "15:00")})
    assert moved.status_code == 200 and moved.json()["ends_at"] == local(DAY, "15:00")
    early = client.patch(f"/shifts/{shift['id']}", headers=headers, json={"ends_at": local(DAY, "07:00")})
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "ends_at"]
    assert client.delete(f"/shifts/{shift['id']}", headers=headers).status_code == 204
    assert client.get(f"/shifts/{shift['id']}", headers=headers).status_code == 404


def test_services_list_the_default_catalogue_and_take_new_ones(setup: Any) -> None:
    """GET /services holds the default catalogue; POST adds one (a taken code is a 409); PATCH edits it."""
    client, headers, _ = setup
    catalogue = client.get("/services", headers=headers).json()
    assert {"hydration", "magnesium", "nad", "b12"} <= {s["code"] for s in catalogue}
    assert all(set(s) == set(ServicePublic.model_fields) for s in catalogue)
    body = {
        "code": "glutathione",
        "name": "Glutathione push",
        "infusion_minutes": 15,
        "roles": ["RN", "NP"],
        "supplies": {"glutathione_vial": 1},
        "clearance_flags": [],
        "uses_pump": False,
    }
    made = client.post("/services", headers=headers, json=body)
    assert made.status_code == 201 and made.json()["code"] == "glutathione"
    assert client.post("/services", headers=headers, json=body).status_code == 409
    edited = client.patch(f"/services/{made.json()['id']}", headers=headers, json={"infusion_minutes": 20})
    assert edited.json()["infusion_minutes"] == 20 and edited.json()["code"] == "glutathione"
    assert client.patch(f"/services/{made.json()['id']}", headers=headers, json={"code": "x"}).status_code == 422


def test_patient_crud_audits_reads_and_writes_and_is_no_store(engine: Engine, setup: Any) -> None:
    """POST/GET/PATCH/DELETE /patients: one audit row each (ids only), Cache-Control no-store on every answer."""
    client, headers, users = setup
    created = client.post("/patients", headers=headers, json=new_patient(7))
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    patient = created.json()
    assert set(patient) == set(PatientPublic.model_fields) and patient["display_name"] == "Quokka P."
    path = f"/patients/{patient['id']}"
    for method, body, action, outcome in (
        ("GET", None, "read", "ok"),
        ("PATCH", {"phone": "+1 303 555 0177"}, "write", "updated"),
        ("DELETE", None, "write", "deleted"),
    ):
        before = audit_count(engine)
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code in (200, 204) and response.headers["cache-control"] == "no-store"
        assert audit_count(engine) == before + 1
        event = last_event(engine)
        assert (event.action, event.resource, event.outcome) == (action, "patient", outcome)
        assert event.resource_ids == [patient["id"]] and event.actor_user_id == users["dispatch"]
    assert client.get(path, headers=headers).status_code == 404
    with Session(engine) as session:
        assert verify_chain(session) == []
        text = " ".join(str(e.resource_ids) + e.outcome for e in events(session))
    assert "Quokka" not in text and "555" not in text


def test_booking_for_a_new_place_and_patient_is_requested(engine: Engine, setup: Any) -> None:
    """POST /bookings with a new place and patient: 201 BookingPublic, status requested; GET by day lists it."""
    client, headers, _ = setup
    response = client.post("/bookings", headers=headers, json=booking_body(priority=3))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert set(booking) == set(BookingPublic.model_fields)
    assert all(set(p) == set(BookingPatientPublic.model_fields) for p in booking["patients"])
    assert (booking["status"], booking["priority"], booking["window_start"]) == ("requested", 3, local(DAY, "09:00"))
    assert booking["patients"][0]["service"] == "hydration" and booking["patients"][0]["first_visit"] is True
    event = last_event(engine)
    assert (event.action, event.resource) == ("write", "booking")
    patient_id = booking["patients"][0]["patient_id"]
    assert event.resource_ids == [booking["id"], f"place:{booking['place_id']}", f"patient:{patient_id}"]
    listed = client.get(f"/bookings?service_date={DAY.isoformat()}", headers=headers)
    assert listed.headers["cache-control"] == "no-store" and booking in listed.json()
    assert last_event(engine).action == "read"
    # the same patient again, at the same place, by id
    again = booking_body(place_id=booking["place_id"])
    again["patients"] = [{"patient_id": booking["patients"][0]["patient_id"], "service": "myers"}]
    del again["place"]
    second = client.post("/bookings", headers=headers, json=again)
    assert second.status_code == 201, second.text
    assert second.json()["patients"][0]["patient_id"] == booking["patients"][0]["patient_id"]


def test_booking_flagged_by_screening_needs_clearance_until_cleared(engine: Engine, setup: Any) -> None:
    """A magnesium drip for a patient with kidney disease needs clearance; /clear clears it (twice: still 200)."""
    client, headers, _ = setup
    flagged = [{**new_patient(2, screening={"kidney_disease": True}), "service": "magnesium"}]
    booking = client.post("/bookings", headers=headers, json=booking_body(patients=flagged)).json()
    assert booking["status"] == "needs_clearance"
    cleared = client.post(f"/bookings/{booking['id']}/clear", headers=headers)
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    assert last_event(engine).outcome == "cleared"
    assert client.post(f"/bookings/{booking['id']}/clear", headers=headers).json()["status"] == "cleared"
    plain = client.post("/bookings", headers=headers, json=booking_body()).json()
    assert client.post(f"/bookings/{plain['id']}/clear", headers=headers).status_code == 409


def test_delete_booking_cancels_it_and_a_cancelled_booking_is_not_edited(engine: Engine, setup: Any) -> None:
    """DELETE cancels (the row stays); PATCH on a cancelled booking is a 409."""
    client, headers, _ = setup
    booking = client.post("/bookings", headers=headers, json=booking_body()).json()
    cancelled = client.delete(f"/bookings/{booking['id']}", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with Session(engine) as session:
        row = session.get(Booking, booking["id"])
        assert row is not None and row.status is BookingStatus.CANCELLED
    assert client.patch(f"/bookings/{booking['id']}", headers=headers, json={"priority": 5}).status_code == 409


def test_patch_booking_checks_the_merged_window_and_resets_clearance(setup: Any) -> None:
    """PATCH moves the window (checked against the stored start); new patients set the status again."""
    client, headers, _ = setup
    booking = client.post("/bookings", headers=headers, json=booking_body()).json()
    path = f"/bookings/{booking['id']}"
    bad = client.patch(path, headers=headers, json={"window_end": local(DAY, "08:00")})
    assert bad.status_code == 422 and [e["loc"] for e in bad.json()["detail"]] == [["body", "window_end"]]
    moved = client.patch(path, headers=headers, json={"window_end": local(DAY, "13:00")})
    assert moved.json()["window_end"] == local(DAY, "13:00")
    flagged = [{**new_patient(3, screening={"arrhythmia": True}), "service": "magnesium"}]
    assert client.patch(path, headers=headers, json={"patients": flagged}).json()["status"] == "needs_clearance"


def test_place_without_coordinates_is_geocoded_or_kept_flagged(engine: Engine) -> None:
    """A place the geocoder finds is ok; one it cannot place is kept, flagged failed, and fixed by lat/lon."""
    make_accounts(engine, *seed_two_medics(engine))
    answers = {"1 found st, denver": (39.74, -104.99), "2 far st, denver": (47.6, -122.3)}
    geocoder = FakeGeocoder({**answers, "3 slow st, denver": TimeoutError()})
    client = dispatch_client(engine, geocoder=geocoder)
    headers = login(client, "dispatch")
    found = client.post("/places", headers=headers, json={"address": "1 Found St, Denver", "kind": "office"}).json()
    assert set(found) == set(PlacePublic.model_fields)
    assert (found["geocode_status"], found["lat"], found["lon"]) == ("ok", 39.74, -104.99)
    for address, problem in (("2 Far St, Denver", "outside_area"), ("3 Slow St, Denver", "timeout")):
        flagged = client.post("/places", headers=headers, json={"address": address})
        assert flagged.status_code == 201
        assert (flagged.json()["geocode_status"], flagged.json()["geocode_problem"]) == ("failed", problem)
        assert flagged.json()["lat"] is None
    fixed = client.patch(f"/places/{flagged.json()['id']}", headers=headers, json={"lat": 39.7, "lon": -105.0})
    assert (fixed.json()["geocode_status"], fixed.json()["lat"]) == ("given", 39.7)
    half = client.patch(f"/places/{found['id']}", headers=headers, json={"lat": 39.7})
    assert half.status_code == 200  # the other coordinate is already on the place
    with Session(engine) as session:
        assert session.get(Place, flagged.json()["id"]) is not None
    read = client.get(f"/places/{found['id']}", headers=headers)
    assert read.headers["cache-control"] == "no-store" and last_event(engine).action == "read"


def test_booking_at_an_address_the_geocoder_misses_is_kept_and_held(engine: Engine) -> None:
    """A booking whose address cannot be geocoded is created (201) at a flagged place: never dropped."""
    make_accounts(engine, *seed_two_medics(engine))
    client = dispatch_client(engine, geocoder=FakeGeocoder())
    headers = login(client, "dispatch")
    body = booking_body(place={"address": "Nowhere Lane", "kind": "home"})
    booking = client.post("/bookings", headers=headers, json=body)
    assert booking.status_code == 201, booking.text
    place = client.get(f"/places/{booking.json()['place_id']}", headers=headers).json()
    assert (place["geocode_status"], place["geocode_problem"]) == ("failed", "not_found")


def test_delete_patient_on_a_booking_is_409(setup: Any) -> None:
    """A booked patient stays with the booking's history: DELETE is a 409."""
    client, headers, _ = setup
    booking = client.post("/bookings", headers=headers, json=booking_body()).json()
    response = client.delete(f"/patients/{booking['patients'][0]['patient_id']}", headers=headers)
    assert response.status_code == 409 and "Quokka" not in response.text


def test_fresh_database_has_no_catalogue_until_it_is_seeded(engine: Engine) -> None:
    """A fresh database has no services: a new user's POST /services for hydration is a 201 (not a 409),
    a booking naming an unknown service is a 422 saying how to seed, and a second POST of the code is a
    409 that says to PATCH it."""
    make_accounts_only(engine)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    assert client.get("/services", headers=headers).json() == []
    body = booking_body(patients=[{**new_patient(1), "service": "myers"}])
    refused = client.post("/bookings", headers=headers, json=body)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "patients", 0, "service"] and "dripline catalogue seed" in error["msg"]
    service = {"code": "hydration", "name": "Hydration", "infusion_minutes": 40, "roles": ["RN", "paramedic", "NP"]}
    created = client.post("/services", headers=headers, json=service)
    assert created.status_code == 201
    again = client.post("/services", headers=headers, json=service)
    assert again.status_code == 409 and f"PATCH /services/{created.json()['id']}" in again.json()["detail"]


def make_accounts_only(engine: Engine) -> None:
    from dispatch.access.accounts import AccountRole, create_user
    from dispatch.store.db import session_scope
    from tests.api_support import PASSWORD

    with session_scope(engine) as session:
        create_user(session, username="dispatch", password=PASSWORD, role=AccountRole.DISPATCHER)


def test_patch_medic_home_moves_the_home_place(setup: Any) -> None:
    """A new home with coordinates moves the medic's home place (same id); one outside the area is a 422."""
    client, headers, _ = setup
    medic = client.post("/medics", headers=headers, json=medic_body()).json()
    moved = client.patch(
        f"/medics/{medic['id']}", headers=headers, json={"home": {"address": "7 New Home", "lat": 39.6, "lon": -105.1}}
    )
    assert moved.status_code == 200 and moved.json()["home_place_id"] == medic["home_place_id"]
    home = client.get(f"/places/{medic['home_place_id']}", headers=headers).json()
    assert (home["address"], home["lat"], home["lon"], home["geocode_status"]) == ("7 New Home", 39.6, -105.1, "given")
    far = client.patch(
        f"/medics/{medic['id']}", headers=headers, json={"home": {"address": "x", "lat": 45, "lon": -105}}
    )
    assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["body", "home", "lat"]


def test_dispatcher_calls_log_no_patient_data(setup: Any, caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, creating, reading, editing and rejecting patient data logs none of it."""
    import logging

    client, headers, _ = setup
    caplog.set_level(logging.DEBUG)
    body = booking_body()
    booking = client.post("/bookings", headers=headers, json=body).json()
    patient_id = booking["patients"][0]["patient_id"]
    client.get(f"/patients/{patient_id}", headers=headers)
    client.get(f"/places/{booking['place_id']}", headers=headers)
    client.patch(f"/patients/{patient_id}", headers=headers, json={"full_name": "Quokka Renamedperson"})
    rejected = client.post("/patients", headers=headers, json={**new_patient(9), "date_of_birth": "2999-01-01"})
    assert rejected.status_code == 422
    unknown = client.post("/bookings", headers=headers, json=booking_body(patients=[{**new_patient(), "service": "x"}]))
    assert unknown.status_code == 422
    logged = caplog.text + " ".join(record.getMessage() for record in caplog.records)
    assert logged, "nothing was captured: the check would be vacuous"
    secrets = ["Quokka", "Larkspur", "555 01", body["place"]["access_notes"]]
    assert [secret for secret in secrets if secret in logged] == []
    assert not [secret for secret in secrets if secret in rejected.text + unknown.text]


def test_credential_kinds_are_listed_and_an_unknown_kind_is_a_422_naming_the_field(setup: Any) -> None:
    """GET /credential-kinds lists the kinds and the roles that need them; a typo such as colorado_license
    is a 422 at credentials.0.kind listing the accepted kinds, on POST and on PATCH."""
    client, headers, _ = setup
    kinds = client.get("/credential-kinds", headers=headers).json()
    assert kinds == [
        {"kind": "iv_certification", "required_for": ["NP", "RN", "paramedic"]},
        {"kind": "licence", "required_for": ["NP", "RN", "paramedic"]},
    ]
    typo = medic_body(credentials=[{"kind": "colorado_license", "expires_on": "2027-06-30"}])
    refused = client.post("/medics", headers=headers, json=typo)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "credentials", 0, "kind"]
    assert "known kinds: iv_certification, licence" in error["msg"]
    medic = client.post("/medics", headers=headers, json=medic_body()).json()
    patched = client.patch(f"/medics/{medic['id']}", headers=headers, json={"credentials": typo["credentials"]})
    assert patched.status_code == 422 and patched.json()["detail"][0]["loc"] == ["body", "credentials", 0, "kind"]


def test_booking_with_a_second_window_keeps_it_and_refuses_an_overlap(setup: Any) -> None:
    """alt_window_start/end are stored and shown; a second window that overlaps the first, or one end
    alone, is a 422 naming the field."""
    client, headers, _ = setup
    body = booking_body(alt_window_start=local(DAY, "16:00"), alt_window_end=local(DAY, "18:00"))
    created = client.post("/bookings", headers=headers, json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["alt_window_start"], created.json()["alt_window_end"]) == (
        local(DAY, "16:00"),
        local(DAY, "18:00"),
    )
    overlap = booking_body(alt_window_start=local(DAY, "10:00"), alt_window_end=local(DAY, "12:00"))
    response = client.post("/bookings", headers=headers, json=overlap)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "alt_window_start"]
    half = booking_body(alt_window_start=local(DAY, "16:00"))
    response = client.post("/bookings", headers=headers, json=half)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "alt_window_end"]

"""Object-level authorization and bad input on the dispatcher's routes (rules 1, 3 and "Bad input").

The matrix walks every route of the app with an id in its path, so a new route is covered as soon
as it exists: a dispatcher asking for an id that does not exist gets a plain 404 (no audit row, no
detail beyond the kind of object), and a medic's token with another medic's real ids gets 403 and
nothing else. The medic's own routes (``/me``) carry no ids; there, another medic's day is a 404
(tests/test_api_sheets.py). Bad input gets a 422 naming the field, and writes nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from dispatch.access.accounts import User
from dispatch.store.tables import Booking, BookingPatient, Medic, Patient, Place, ShiftRow
from tests.api_support import (
    API_FAST,
    audit_count,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    dispatch_client,
    future_day,
    local,
    login,
    planned_day,
)
from tests.factory import DAY
from tests.test_api_security import PUBLIC_PATHS, routes

pytestmark = pytest.mark.usefixtures("cheap_argon2")

#: an id no test database reaches, inside the 32-bit range every id column has
ABSENT_ID = 2_000_000_000
DATE_PARAMS = frozenset({"day", "date"})


def id_routes() -> list[tuple[str, str]]:
    """(method, path) of every signed-in route with an id (not only a date) in its path.

    The public calendar feed's address carries a secret, not an id: tests/test_api_feeds.py covers it.
    """
    found = []
    for path, methods, _dependant in routes(create_app(API_FAST)):
        params = set(re.findall(r"\{(\w+)\}", path))
        if params - DATE_PARAMS and path not in PUBLIC_PATHS:
            found += [(method, path) for method in sorted(methods - {"HEAD", "OPTIONS"})]
    return found


def fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def test_id_routes_cover_every_resource() -> None:
    """The walk is not vacuous: each resource's item routes are in it."""
    paths = {path for _method, path in id_routes()}
    assert {
        "/medics/{medic_id}",
        "/shifts/{shift_id}",
        "/services/{service_id}",
        "/patients/{patient_id}",
        "/places/{place_id}",
        "/bookings/{booking_id}",
        "/bookings/{booking_id}/clear",
        "/plans/jobs/{job_id}",
        "/route-sheets/{day}/{medic_id}",
    } <= paths


#: a body that passes validation, for the id routes whose body has required fields (else a 422 comes first)
VALID_BODIES = {("PUT", "/bookings/{booking_id}/pin"): {"medic_id": 1}}


def test_unknown_id_on_every_id_route_is_a_plain_404(engine: Engine) -> None:
    """A dispatcher (an admin on the admin-only routes) naming an absent id, on every id route: 404, not audited."""
    planned_day(engine)
    client = dispatch_client(engine)
    dispatcher, admin = login(client, "dispatch"), login(client, "admin")
    absent = {"day": DAY.isoformat(), "job_id": uuid.uuid4().hex}
    checked = []
    for method, path in id_routes():
        url = fill(path, {name: absent.get(name, ABSENT_ID) for name in re.findall(r"\{(\w+)\}", path)})
        before = audit_count(engine)
        headers = admin if path.startswith("/users") else dispatcher
        body = VALID_BODIES.get((method, path), {} if method in {"PATCH", "POST"} else None)
        response = client.request(method, url, headers=headers, json=body)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert re.fullmatch(r"[a-z ]+ not found", response.json()["detail"]), response.json()
        assert response.headers["cache-control"] == "no-store"
        assert audit_count(engine) == before, f"{method} {path}: a 404 for an unknown id is not audited"
        checked.append(f"{method} {path}")
    assert {
        "GET /medics/{medic_id}",
        "PATCH /bookings/{booking_id}",
        "DELETE /patients/{patient_id}",
        "PATCH /users/{user_id}",
    } <= set(checked)


def test_medic_token_with_another_medics_real_ids_is_403_and_discloses_nothing(engine: Engine) -> None:
    """Bob's token on every id route, with Alice's real ids (her medic, shift, bookings, patients, place): 403."""
    world = planned_day(engine)
    client = dispatch_client(engine)
    bob = login(client, "bob")
    with Session(engine) as session:
        booking = session.get(Booking, world.bookings[0])
        assert booking is not None
        line = session.exec(select(BookingPatient).where(BookingPatient.booking_id == booking.id)).first()
        shift = session.exec(select(ShiftRow).where(ShiftRow.medic_id == world.medic_a)).first()
        assert line is not None and shift is not None
        real = {
            "medic_id": world.medic_a,
            "shift_id": shift.id,
            "service_id": line.service_id,
            "patient_id": line.patient_id,
            "place_id": booking.place_id,
            "booking_id": booking.id,
            "job_id": uuid.uuid4().hex,
            "day": DAY.isoformat(),
            "user_id": session.exec(select(User.id).where(User.username == "alice")).one(),
        }
    for method, path in id_routes():
        response = client.request(method, fill(path, real), headers=bob, json={} if method != "GET" else None)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json() == {"detail": "not enough permissions"}
        assert not [secret for secret in world.secrets if secret in response.text]


# --------------------------------------------------------------------- bad input

SERVICE_DAY = future_day()


def booking(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_date": SERVICE_DAY.isoformat(),
        "window_start": local(SERVICE_DAY, "09:00"),
        "window_end": local(SERVICE_DAY, "11:00"),
        "place": {"address": "9 Quokka Testway, Denver, CO", "kind": "home", "lat": 39.75, "lon": -104.98},
        "patients": [
            {
                "full_name": "Quokka Inputname",
                "phone": "+1 720 555 0142",
                "date_of_birth": "1980-05-06",
                "service": "hydration",
            }
        ],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def shift(medic_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "medic_id": medic_id,
        "service_date": SERVICE_DAY.isoformat(),
        "starts_at": local(SERVICE_DAY, "08:00"),
        "ends_at": local(SERVICE_DAY, "16:00"),
        **changes,
    }


PAST = "2020-03-02"
#: (name, method, path, body (a function of the medic's id), the loc the 422 must name). A key that is not
#: a field is named by its position in the object ("key 4"), never by its text, which may be patient data.
BAD_INPUT: list[tuple[str, str, str, Any, list[Any]]] = [
    ("extra field", "POST", "/patients",
     lambda m: {"full_name": "Quokka X", "phone": "+1 720 555 0100", "date_of_birth": "1980-01-01",
                "nickname": "Quokka Nick"}, ["body", "key 4"]),
    ("server-owned id", "POST", "/medics",
     lambda m: {"id": 7, "name": "N", "role": "RN", "home": {"address": "a", "lat": 39.7, "lon": -105.0}},
     ["body", "key 1"]),
    ("server-owned status", "POST", "/bookings", lambda m: booking(status="cleared"), ["body", "key 6"]),
    ("server-owned status in a patch", "PATCH", "/bookings/{booking_id}", lambda m: {"status": "cleared"},
     ["body", "key 1"]),
    ("tz-naive datetime", "POST", "/bookings", lambda m: booking(window_start=f"{SERVICE_DAY}T09:00:00"),
     ["body", "window_start"]),
    ("tz-naive shift start", "POST", "/shifts", lambda m: shift(m, starts_at=f"{SERVICE_DAY}T08:00:00"),
     ["body", "starts_at"]),
    ("end before start", "POST", "/bookings", lambda m: booking(window_end=local(SERVICE_DAY, "08:00")),
     ["body", "window_end"]),
    ("shift end before start", "POST", "/shifts", lambda m: shift(m, ends_at=local(SERVICE_DAY, "07:00")),
     ["body", "ends_at"]),
    ("lat 91", "POST", "/bookings",
     lambda m: booking(place={"address": "a", "lat": 91, "lon": -104.98}), ["body", "place", "lat"]),
    ("lat 91 on a place", "POST", "/places", lambda m: {"address": "a", "lat": 91, "lon": -104.98}, ["body", "lat"]),
    ("outside the service area", "POST", "/places", lambda m: {"address": "a", "lat": 47.6, "lon": -104.98},
     ["body", "lat"]),
    ("one coordinate", "POST", "/places", lambda m: {"address": "a", "lat": 39.7}, ["body", "lon"]),
    ("unknown service", "POST", "/bookings",
     lambda m: booking(patients=[{**booking()["patients"][0], "service": "unicorn_tears"}]),
     ["body", "patients", 0, "service"]),
    ("past day", "POST", "/bookings",
     lambda m: booking(service_date=PAST, window_start=f"{PAST}T09:00:00-07:00", window_end=f"{PAST}T10:00:00-07:00"),
     ["body", "service_date"]),
    ("window on another day", "POST", "/bookings",
     lambda m: booking(window_start=local(future_day(2), "23:00")),
     ["body", "window_start"]),
    ("unknown medic", "POST", "/shifts", lambda m: shift(ABSENT_ID), ["body", "medic_id"]),
    ("unknown preferred medic", "POST", "/bookings", lambda m: booking(preferred_medic_id=ABSENT_ID),
     ["body", "preferred_medic_id"]),
    ("unknown patient", "POST", "/bookings", lambda m: booking(patients=[{"patient_id": ABSENT_ID, "service": "b12"}]),
     ["body", "patients", 0, "patient_id"]),
    ("unknown place", "POST", "/bookings", lambda m: booking(place=None, place_id=ABSENT_ID), ["body", "place_id"]),
    ("no place", "POST", "/bookings", lambda m: booking(place=None), ["body", "place"]),
    ("new patient without a name", "POST", "/bookings",
     lambda m: booking(patients=[{"phone": "+1 720 555 0100", "date_of_birth": "1980-01-01", "service": "b12"}]),
     ["body", "patients", 0, "full_name"]),
    ("negative duration", "POST", "/services",
     lambda m: {"code": "neg", "name": "Negative", "infusion_minutes": -5, "roles": ["RN"]},
     ["body", "infusion_minutes"]),
    ("birth date in the future", "POST", "/patients",
     lambda m: {"full_name": "Quokka Y", "phone": "+1 720 555 0100", "date_of_birth": str(future_day(30))},
     ["body", "date_of_birth"]),
    ("null for a field that is never null", "PATCH", "/bookings/{booking_id}", lambda m: {"priority": None},
     ["body", "priority"]),
    ("a re-plan of a past day", "POST", f"/plans/{PAST}", lambda m: None, ["path", "day"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "method", "path", "body", "loc"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    engine: Engine, name: str, method: str, path: str, body: Any, loc: list[Any]
) -> None:
    """Each bad input gets a 422 whose errors name exactly the field; no row is added and no value is echoed."""
    world = planned_day(engine, plan=False)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    url = path.replace("{booking_id}", str(world.bookings[0]))
    counts = row_counts(engine)
    response = client.request(method, url, headers=headers, json=body(world.medic_b))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [loc], errors
    assert all(set(error) == {"loc", "msg", "type"} and error["msg"] for error in errors)
    assert "Quokka" not in response.text
    assert row_counts(engine) == counts


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.__name__: len(session.exec(select(table)).all())
            for table in (Booking, BookingPatient, Patient, Place, Medic, ShiftRow)
        }

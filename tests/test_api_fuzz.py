"""Nothing a client sends crashes the server ("Bad input"): schemathesis fuzzes the OpenAPI schema in-process.

The app's schema is loaded with ``schemathesis.openapi.from_asgi``; every operation gets a bounded
number of generated requests, valid ones and invalid ones (Hypothesis: ``MAX_EXAMPLES`` per
operation and mode, no deadline), sent with a dispatcher's token to the app on a seeded tiny day.
Generated ids seldom name a row, so each operation with ids in its path runs a second time with
them pinned to the seeded day's real rows: then the generated bodies reach the business rules.
No response may be a 5xx (schemathesis's ``not_a_server_error`` check). ``POST /auth/revoke`` is
left out: it would end the token the rest of the run uses.

Each operation runs as a Hypothesis test of its own over ``operation.as_strategy``, within one
pytest test per database, rather than through ``schemathesis.pytest.from_fixture``: its per-operation
subtests set ``Function._nodeid``, which pytest 9.2 no longer has (AttributeError at run time).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from dispatch.access.audit import verify_chain
from dispatch.store.tables import Booking, BookingPatient, ShiftRow
from tests.api_support import (
    API_FAST,
    FakeGeocoder,
    World,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    login,
    planned_day,
    solve_here,
    wait_for_plan_jobs,
)
from tests.factory import DAY

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cheap_argon2")]

MAX_EXAMPLES = 8
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is repeatable
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def fuzz_operation(
    operation: Any, mode: GenerationMode, headers: dict[str, str], path_parameters: dict[str, Any] | None = None
) -> str | None:
    """Run one operation's generated cases in ``mode``; the first failure as text, or None."""

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:  # nothing invalid can be made for this operation (e.g. no parameters at all)
        return None
    except Exception as error:
        pinned = " with real ids" if path_parameters else ""
        return f"{operation.label} ({mode.value}{pinned}): {type(error).__name__}: {error}"
    return None


def real_ids(engine: Engine, world: World) -> dict[str, Any]:
    """Path parameters naming the seeded day's rows: Alice, her shift, a booking, its patient, place and service."""
    with Session(engine) as session:
        booking = session.get(Booking, world.bookings[0])
        assert booking is not None
        line = session.exec(select(BookingPatient).where(BookingPatient.booking_id == booking.id)).first()
        shift = session.exec(select(ShiftRow).where(ShiftRow.medic_id == world.medic_a)).first()
        assert line is not None and shift is not None
        return {
            "medic_id": world.medic_a,
            "shift_id": shift.id,
            "service_id": line.service_id,
            "patient_id": line.patient_id,
            "place_id": booking.place_id,
            "booking_id": booking.id,
            "day": DAY.isoformat(),
        }


def test_fuzz_schema_answers_no_5xx(engine: Engine) -> None:
    """Valid and invalid generated requests to every operation, with a dispatcher's token: no response is a 5xx."""
    world = planned_day(engine)
    pinned = real_ids(engine, world)
    app = create_app(API_FAST, engine, geocoder=FakeGeocoder(), plan_solver=solve_here)
    headers = login(TestClient(app), "dispatch")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/auth/revoke")
    labels, failures = [], []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            labels.append(operation.label)
            names = {parameter.name for parameter in operation.path_parameters}
            runs = [None, {name: pinned[name] for name in names if name in pinned}] if names else [None]
            for path_parameters in runs:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    failure = fuzz_operation(operation, mode, headers, path_parameters or None)
                    if failure:
                        failures.append(failure)
    finally:
        wait_for_plan_jobs()  # re-plans the fuzzer asked for end before the database goes
    assert {
        "POST /bookings",
        "PATCH /medics/{medic_id}",
        "POST /plans/{day}",
        "GET /route-sheets/{day}/{medic_id}",
    } <= set(labels), labels
    assert failures == [], "\n\n".join(failures)
    with Session(engine) as session:
        assert verify_chain(session) == []  # hundreds of audited calls, one intact chain

"""The medic's own route sheet as JSON, a phone page and iCalendar (rules 1, 3, 5 and 6)."""

from __future__ import annotations

from datetime import datetime

import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.models import BreakPublic, RouteSheetPublic, SheetPatientPublic, SheetStopPublic
from dispatch.planning.sheets import route_sheets
from tests.api_support import (
    audit_count,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    client_for,
    last_event,
    login,
    planned_day,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")

SHEET = f"/me/route-sheets/{DAY.isoformat()}"
FORMATS = [SHEET, f"{SHEET}/page", f"{SHEET}/calendar.ics"]


def test_get_route_sheet_json_keys_equal_public_fields(engine: Engine) -> None:
    """Every level of the JSON sheet has exactly the declared Public fields, and it is the caller's sheet."""
    planned_day(engine)
    client = client_for(engine)
    response = client.get(SHEET, headers=login(client, "alice"))
    assert response.status_code == 200
    sheet = response.json()
    assert set(sheet) == set(RouteSheetPublic.model_fields)
    assert sheet["medic_name"] == "Alice Medic" and sheet["date"] == DAY.isoformat()
    assert len(sheet["stops"]) == 2
    for stop in sheet["stops"]:
        assert set(stop) == set(SheetStopPublic.model_fields)
        for patient in stop["patients"]:
            assert set(patient) == set(SheetPatientPublic.model_fields)
    for pause in sheet["breaks"]:
        assert set(pause) == set(BreakPublic.model_fields)


def test_get_route_sheet_json_times_in_denver(engine: Engine) -> None:
    """Times come with Denver's offset (-07:00 in December) and match the stored plan."""
    planned_day(engine)
    client = client_for(engine)
    sheet = client.get(SHEET, headers=login(client, "alice")).json()
    with Session(engine) as session:
        (stored,) = route_sheets(session, DAY, sheet_medic_id(engine))
    first = sheet["stops"][0]
    assert first["arrival"].endswith("-07:00")
    assert datetime.fromisoformat(first["arrival"]) == stored.stops[0].arrival
    assert first["navigate_url"] == (
        f"https://www.google.com/maps/dir/?api=1&destination={stored.stops[0].lat:.6f},{stored.stops[0].lon:.6f}"
    )


def sheet_medic_id(engine: Engine) -> int:
    with Session(engine) as session:
        (sheet,) = route_sheets(session, DAY)
        return sheet.medic_id


@pytest.mark.parametrize("path", FORMATS)
def test_get_route_sheet_of_another_medics_day_is_404_and_audited(engine: Engine, path: str) -> None:
    """Bob has no route on Alice's day: every format answers 404 (as for a missing one) and a denial is audited.

    The page says so in a sentence, for a person on a phone; the JSON and calendar say it as JSON.
    """
    world = planned_day(engine)
    client = client_for(engine)
    bob = login(client, "bob")
    before = audit_count(engine)
    response = client.get(path, headers=bob)
    assert response.status_code == 404
    if path.endswith("/page"):
        assert "No route for this day" in response.text and response.headers["content-type"].startswith("text/html")
    else:
        assert response.json() == {"detail": "no route sheet"}
    assert audit_count(engine) == before + 1
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome, event.actor_user_id) == (
        "deny", "route_sheet", "not_found", world.users["bob"],
    )  # fmt: skip
    assert event.resource_ids == [f"date:{DAY.isoformat()}"]
    missing = client.get(path.replace(DAY.isoformat(), "2026-12-03"), headers=bob)
    assert missing.status_code == 404 and missing.text == response.text


def test_get_route_sheet_before_any_plan_is_404(engine: Engine) -> None:
    """No published plan yet: 404."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    assert client.get(SHEET, headers=login(client, "alice")).status_code == 404


@pytest.mark.parametrize("user", ["dispatch", "admin"])
def test_get_route_sheet_without_medic_role_is_403_and_audited(engine: Engine, user: str) -> None:
    """The /me routes are for medics: a dispatcher or admin gets 403, audited as a denial."""
    world = planned_day(engine)
    client = client_for(engine)
    headers = login(client, user)
    for path in FORMATS:
        assert client.get(path, headers=headers).status_code == 403
        event = last_event(engine)
        assert (event.action, event.outcome, event.actor_user_id) == ("deny", "forbidden", world.users[user])


def test_get_route_sheet_page_links_each_stop(engine: Engine) -> None:
    """The page has a navigate link, a geo: link and a tel: link per patient of each stop, and fits a phone."""
    planned_day(engine)
    client = client_for(engine)
    response = client.get(f"{SHEET}/page", headers=login(client, "alice"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    with Session(engine) as session:
        (sheet,) = route_sheets(session, DAY, sheet_medic_id(engine))
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    for stop in sheet.stops:
        assert f"https://www.google.com/maps/dir/?api=1&amp;destination={stop.lat:.6f},{stop.lon:.6f}" in page
        assert f"geo:{stop.lat:.6f},{stop.lon:.6f}" in page
        assert stop.address in page
        for patient in stop.patients:
            digits = "".join(ch for ch in patient.phone if ch.isdigit() or ch == "+")
            assert f'href="tel:{digits}"' in page
            assert patient.display_name in page
    for item in sheet.stock:
        assert item.replace("_", " ") in page
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_get_route_sheet_calendar_has_one_event_per_stop(engine: Engine) -> None:
    """The .ics has one VEVENT per stop, with a UID that is the same on every fetch of the same version."""
    planned_day(engine)
    client = client_for(engine)
    headers = login(client, "alice")
    response = client.get(f"{SHEET}/calendar.ics", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    with Session(engine) as session:
        (sheet,) = route_sheets(session, DAY, sheet_medic_id(engine))
    assert len(events) == len(sheet.stops) == 2
    assert [e.decoded("dtstart") for e in events] == [s.start for s in sheet.stops]
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == 2
    again = Calendar.from_ical(client.get(f"{SHEET}/calendar.ics", headers=headers).content).walk("VEVENT")
    assert [str(e["uid"]) for e in again] == uids
    for stop in sheet.stops:  # the calendar may be synced to a third-party cloud: no names or phones
        for patient in stop.patients:
            assert patient.display_name not in response.text and patient.phone not in response.text


@pytest.mark.parametrize("path", FORMATS)
def test_get_route_sheet_with_matching_etag_is_304(engine: Engine, path: str) -> None:
    """An ETag comes with the sheet; sending it back in If-None-Match gets 304 with no body."""
    planned_day(engine)
    client = client_for(engine)
    headers = login(client, "alice")
    first = client.get(path, headers=headers)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    second = client.get(path, headers={**headers, "If-None-Match": etag})
    assert second.status_code == 304 and second.content == b""
    assert second.headers["etag"] == etag and second.headers["cache-control"] == "no-store"
    stale = client.get(path, headers={**headers, "If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_get_route_sheet_etag_differs_by_format(engine: Engine) -> None:
    """Each format has its own ETag, so a page's ETag never validates the JSON."""
    planned_day(engine)
    client = client_for(engine)
    headers = login(client, "alice")
    tags = {client.get(path, headers=headers).headers["etag"] for path in FORMATS}
    assert len(tags) == 3


@pytest.mark.parametrize("path", FORMATS)
def test_get_route_sheet_responses_are_no_store(engine: Engine, path: str) -> None:
    """Sheet responses, and the 404 of a day without one, carry Cache-Control: no-store."""
    planned_day(engine)
    client = client_for(engine)
    assert client.get(path, headers=login(client, "alice")).headers["cache-control"] == "no-store"
    assert client.get(path, headers=login(client, "bob")).headers["cache-control"] == "no-store"


def test_get_route_sheet_with_bad_date_is_422_naming_it(engine: Engine) -> None:
    """A path date that is not YYYY-MM-DD is a 422 naming the field, without echoing it."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    response = client.get("/me/route-sheets/Quokkaday", headers=login(client, "alice"))
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["path", "day"]]
    assert "Quokkaday" not in response.text

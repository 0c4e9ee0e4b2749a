"""End to end: the real ``dripline serve`` process, real HTTP, and the medic's page in a real browser.

One module-scoped server on a temporary SQLite file and a temporary config (a 2-second, one-worker
solver), with two worker processes as in production, so consecutive requests land on either.
Over HTTP the admin creates a dispatcher; the dispatcher creates three medics (RN,
paramedic, NP) with shifts and credentials and eight bookings around downtown Denver (one of them
a five-patient hotel group, split into two parts); the admin creates a medic account each; the
dispatcher plans the day. Then each medic reads their own sheet, and the sheets must hold exactly
the plan's stops, with every booking part either on a sheet or unassigned.

The browser test opens each medic's page in headless Chromium at 375 x 812 (a phone) and checks the
tap targets and the width; one medic gets there as on a phone, through the sign-in form and its
cookie. A medic's calendar-feed address is fetched without credentials, and the server's log must
not show its token; it skips when /usr/bin/chromium is missing (CI installs Debian's).
The server, and any process it started, is stopped at the end of the module whatever happens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    MIN_TAP_PX,
    PASSWORD,
    PHONE,
    PlannedDay,
    Server,
    _ok,
    plan_the_day,
    running_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from running_server(tmp_path_factory)


@pytest.fixture(scope="module")
def planned(server: Server) -> PlannedDay:
    return plan_the_day(server)


def _stops_of(plan: dict[str, Any]) -> dict[int, list[tuple[int, int]]]:
    """medic id -> the (booking_id, part) of each planned stop, in order."""
    return {int(r["medic_id"]): [(int(s["booking_id"]), int(s["part"])) for s in r["stops"]] for r in plan["routes"]}


def test_sheets_hold_exactly_the_planned_stops(planned: PlannedDay) -> None:
    planned_by_medic = _stops_of(planned.plan)
    on_sheets = [(s["booking_id"], s["part"]) for sheet in planned.sheets.values() for s in sheet["stops"]]
    in_plan = [stop for stops in planned_by_medic.values() for stop in stops]

    # exactly the planned stops, each once
    assert Counter(on_sheets) == Counter(in_plan)
    assert len(set(on_sheets)) == len(on_sheets), "a stop is on two sheets"
    # each medic's sheet is their own route, in the plan's order, from the published version
    for medic_id, sheet in planned.sheets.items():
        assert sheet["plan_version"] == planned.plan["version"]
        assert [(s["booking_id"], s["part"]) for s in sheet["stops"]] == planned_by_medic.get(medic_id), medic_id
    # a medic without a sheet has no stops in the plan
    for medic_id in planned.no_sheet:
        assert not planned_by_medic.get(medic_id), f"medic {medic_id} has planned stops but no sheet"
    assert in_plan, f"nothing was planned: {planned.plan['unassigned']}"


def test_every_booking_is_on_a_sheet_or_unassigned(planned: PlannedDay) -> None:
    on_sheets = {(s["booking_id"], s["part"]) for sheet in planned.sheets.values() for s in sheet["stops"]}
    unassigned = {(u["booking_id"], u["part"]) for u in planned.plan["unassigned"]}
    assert not on_sheets & unassigned, f"both planned and unassigned: {on_sheets & unassigned}"
    for item in planned.plan["unassigned"]:
        assert item["reason"] and item["detail"], item
    for booking_id, seed in planned.bookings.items():
        parts = {part for b, part in on_sheets | unassigned if b == booking_id}
        # a booking held before the solve (no parts yet) is listed once, as part 1
        assert parts == set(range(1, seed.parts + 1)), f"booking {booking_id}: parts {parts}, {seed.parts} expected"
    # a booking served in full lists each of its patients once (the five-patient group over both parts)
    patients_listed: Counter[int] = Counter()
    for sheet in planned.sheets.values():
        for stop in sheet["stops"]:
            patients_listed[stop["booking_id"]] += len(stop["patients"])
    for booking_id, seed in planned.bookings.items():
        if not any(b == booking_id for b, _ in unassigned):
            assert patients_listed[booking_id] == len(seed.services), booking_id


# --------------------------------------------------------------------- the mobile page in Chromium


def test_mobile_page_tap_targets_at_375px(planned: PlannedDay) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); CI does")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with_stops = {m: sheet for m, sheet in planned.sheets.items() if sheet["stops"]}
    assert with_stops, "no medic has a stop to check"
    busiest = max(with_stops, key=lambda m: len(with_stops[m]["stops"]))
    ARTIFACTS.mkdir(exist_ok=True)
    url = f"{planned.base_url}/me/route-sheets/{planned.day.isoformat()}/page"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for medic_id, sheet in sorted(with_stops.items()):
                # the busiest medic signs in as on a phone: the page sends them to the sign-in form,
                # whose cookie then opens the page; the others send their Bearer header
                by_form = medic_id == busiest
                context = browser.new_context(
                    viewport=PHONE,
                    is_mobile=True,
                    has_touch=True,
                    device_scale_factor=2,
                    extra_http_headers={} if by_form else planned.medic_headers[medic_id],
                )
                try:
                    page = context.new_page()
                    page.set_default_timeout(10_000)
                    if by_form:
                        _sign_in_on_the_phone(page, url, planned.base_url, planned.usernames[medic_id])
                    response = page.goto(url)
                    assert response is not None and response.status == 200, response and response.status
                    _check_page(page, sheet, medic_id)
                    if by_form:
                        page.screenshot(path=str(ARTIFACTS / "route_sheet_375.png"), full_page=True)
                finally:
                    context.close()
        finally:
            browser.close()


def _sign_in_on_the_phone(page: Any, url: str, base_url: str, username: str) -> None:
    """Open the route page signed out, land on the sign-in form, and sign in with big-enough fields."""
    page.goto(url)
    assert page.url == f"{base_url}/login", page.url
    for field_name in ("username", "password"):
        _check_tap_target(page.locator(f'input[name="{field_name}"]'), f"the {field_name} field")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    button = page.get_by_role("button", name="Sign in")
    _check_tap_target(button, "the sign-in button")
    with page.expect_navigation():
        button.click()
    assert page.url.startswith(f"{base_url}/me/route-sheets/"), page.url  # /me/today sent it on to a date


def _check_tap_target(link: Any, what: str) -> None:
    assert link.is_visible(), f"{what} is not visible"
    assert link.is_enabled(), f"{what} is not enabled"
    box = link.bounding_box()
    assert box is not None, f"{what} has no box"
    assert box["height"] >= MIN_TAP_PX and box["width"] >= MIN_TAP_PX, f"{what} is {box['width']}x{box['height']} px"
    link.click(trial=True)  # actionable: visible, stable, enabled, and nothing covers it


def test_calendar_feed_address_serves_the_route_without_leaking_its_token(planned: PlannedDay) -> None:
    """A medic's feed address, fetched with no credentials, lists their stops; the server log hides the token."""
    medic_id = max(planned.sheets, key=lambda m: len(planned.sheets[m]["stops"]))
    sheet = planned.sheets[medic_id]
    with httpx.Client(base_url=planned.base_url, timeout=30) as client:
        url = _ok(client.post("/me/calendar-feed", headers=planned.medic_headers[medic_id]), 201)["url"]
    assert url.startswith(f"{planned.base_url}/feeds/"), "the feed address is built from [api] public_url"
    token = url.split("/feeds/")[1].split("/")[0]
    feed = httpx.get(url, timeout=30)  # what a calendar app does: a plain GET of the address
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert feed.text.count("BEGIN:VEVENT") == len(sheet["stops"])
    log = planned.server.log_path.read_text(errors="replace")
    assert "/feeds/[redacted]/route.ics" in log
    assert token not in log


def test_a_forged_forwarded_for_is_neither_believed_nor_logged(planned: PlannedDay) -> None:
    """Wrong passwords from loopback, each with a new X-Forwarded-For: the real server throttles them as one
    client (nobody listed loopback in [api] trusted_proxies), and its log never shows a forged address."""
    with httpx.Client(base_url=planned.base_url, timeout=30) as client:
        codes = [
            client.post(
                "/auth/token",
                json={"username": "nobody-at-all", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(12)
        ]
    assert 429 in codes, codes
    assert "198.51.100." not in planned.server.log_path.read_text(errors="replace")


def _check_page(page: Any, sheet: dict[str, Any], medic_id: int) -> None:
    sections = page.locator('section[aria-label^="Stop "]')
    assert sections.count() == len(sheet["stops"]), f"medic {medic_id}: {sections.count()} stops on the page"
    for stop in sheet["stops"]:
        section = page.locator(f'section[aria-label="Stop {stop["sequence"]}"]')
        label = f"medic {medic_id} stop {stop['sequence']}"
        navigate = section.get_by_role("link", name="Navigate", exact=True)
        assert navigate.count() == 1, f"{label}: {navigate.count()} navigate links"
        assert navigate.get_attribute("href") == stop["navigate_url"]
        _check_tap_target(navigate, f"{label} navigate link")
        calls = section.locator('a[href^="tel:"]')
        assert calls.count() == len(stop["patients"]), f"{label}: {calls.count()} call links"
        for k, patient in enumerate(stop["patients"]):
            call = calls.nth(k)
            digits = "".join(ch for ch in patient["phone"] if ch.isdigit() or ch == "+")
            assert call.get_attribute("href") == f"tel:{digits}"
            _check_tap_target(call, f"{label} call link {k + 1}")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"medic {medic_id}: the page is {width} px wide at {PHONE['width']} px"

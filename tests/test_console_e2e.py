"""The dispatcher's console end to end: the real ``dripline serve`` (tests/test_e2e.py's server and planned day:
three medics, eight bookings), real HTTP, and the console in headless Chromium at 1440 x 900.

A dispatcher signs in through the console's form; the board's markers and timeline rows are the plan's stops
and medics, and its unassigned list the plan's; axe-core finds no serious accessibility violation; a booking is
created in the form (a bad phone first: its error shows beside the field); a booking is pinned to another medic,
the day re-planned with the button, and the pin kept; a move that breaks a window is refused with the rule's
words. A cross-site form post to a console write is refused, and a medic's cookie reaches no console page.
The screenshot is test-artifacts/console_board_1440.png. Skips when /usr/bin/chromium is missing (CI installs it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    PlannedDay,
    Server,
    _ok,
    login,
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


DESKTOP = {"width": 1440, "height": 900}
AXE = ARTIFACTS.parent / "tests" / "vendor" / "axe-core" / "axe.min.js"


def _plan(planned: PlannedDay) -> dict[str, Any]:
    with httpx.Client(base_url=planned.base_url, timeout=30) as client:
        return dict(_ok(client.get(f"/plans/{planned.day.isoformat()}", headers=login(client, "dispatch"))))


@pytest.fixture(scope="module")
def browser() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); CI does")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _sign_in(browser: Any, planned: PlannedDay, username: str = "dispatch", **options: Any) -> Any:
    """A page signed in through /console/login; it has followed the redirect that answers it."""
    context = browser.new_context(viewport=DESKTOP, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{planned.base_url}/console/{planned.day.isoformat()}")
    assert page.url == f"{planned.base_url}/console/login", page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


def _board(page: Any, planned: PlannedDay, query: str = "") -> None:
    response = page.goto(f"{planned.base_url}/console/{planned.day.isoformat()}{query}")
    assert response is not None and response.status == 200
    page.wait_for_selector("#map[data-ready='true']")


def test_board_draws_the_plan_and_passes_axe(browser: Any, planned: PlannedDay) -> None:
    """Markers and timeline rows equal the plan's stops and medics, the unassigned list equals the plan's, a stop's
    popup names its booking, and axe-core reports no serious or critical violation."""
    plan = _plan(planned)
    page = _sign_in(browser, planned, bypass_csp=True)  # axe is injected as a script: the test's, not the page's
    try:
        assert page.url.startswith(f"{planned.base_url}/console/"), page.url
        _board(page, planned)
        stops = sum(len(route["stops"]) for route in plan["routes"])
        assert page.locator(".leaflet-marker-icon.stop-marker").count() == stops
        assert page.locator(".leaflet-marker-icon.home-marker").count() == 3
        assert page.locator(".timeline-row").count() == 3
        assert page.locator(".timeline-row .block.stop").count() == stops
        listed = [
            int(b)
            for b in page.locator("#unassigned tbody tr[data-booking]").evaluate_all(
                "rows => rows.map(r => r.dataset.booking)"
            )
        ]
        assert listed == [u["booking_id"] for u in plan["unassigned"]]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console_board_1440.png"), full_page=False)
        first = plan["routes"][0]["stops"][0]["booking_id"]
        page.locator(f".leaflet-marker-icon.stop-marker[data-booking='{first}']").click()
        assert f"Booking {first}" in page.locator(".leaflet-popup-content").inner_text()
        page.add_script_tag(path=str(AXE))
        found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        serious = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")]
        assert serious == [], serious
    finally:
        page.context.close()


def test_booking_form_shows_the_apis_errors_by_field_then_creates(browser: Any, planned: PlannedDay) -> None:
    """A phone of three digits: the API's 422 shows beside the phone field and nothing is made; corrected, the
    booking is created and listed on the board."""
    page = _sign_in(browser, planned)
    try:
        page.goto(f"{planned.base_url}/console/{planned.day.isoformat()}/bookings/new")
        page.get_by_label("Window opens").fill("13:00")
        page.get_by_label("Window closes").fill("16:00")
        page.get_by_label("Address", exact=True).fill("77 Console Testway, Denver, CO 80202")
        page.get_by_label("Latitude (optional: else the address is looked up)").fill("39.7470")
        page.get_by_label("Longitude").fill("-104.9920")
        page.get_by_label("Full name").fill("Quinn Consoletest")
        page.get_by_label("Phone").fill("123")
        page.get_by_label("Date of birth").fill("1985-06-01")
        page.get_by_role("button", name="Create booking").click()
        error = page.locator("[id='err-patients.0.phone']")
        error.wait_for(state="visible")
        assert "phone number" in error.inner_text()
        assert page.get_by_label("Phone").get_attribute("aria-invalid") == "true"
        before = page.url
        page.get_by_label("Phone").fill("+1 720 555 0177")
        with page.expect_navigation():
            page.get_by_role("button", name="Create booking").click()
        assert page.url != before and page.url.endswith(f"/console/{planned.day.isoformat()}")
        assert page.locator("#bookings tbody tr").count() == len(planned.bookings) + 1
    finally:
        page.context.close()


def test_pin_is_kept_by_the_replan_button(browser: Any, planned: PlannedDay) -> None:
    """A served booking pinned to another medic; Re-plan: the progress shows, the board comes back with what
    changed, and the booking is on the pinned medic's route, its pin kept."""
    plan = _plan(planned)
    owner = {s["booking_id"]: r["medic_id"] for r in plan["routes"] for s in r["stops"]}
    booking = next(b for b in sorted(owner) if sum(1 for x in owner if owner[x] == owner[b]) > 1)
    other = next(m for m in planned.medic_headers if m != owner[booking])
    page = _sign_in(browser, planned)
    try:
        _board(page, planned)
        page.get_by_role("button", name=f"Pin booking {booking}", exact=True).click()
        form = page.locator("#pin-form")
        form.get_by_label("to", exact=True).select_option(str(other))
        with page.expect_navigation():
            form.get_by_role("button", name="Pin", exact=True).click()
        assert (
            "re-plan to apply" in page.locator(f"#bookings tr[data-booking='{booking}'] [data-pin-state]").inner_text()
        )
        with page.expect_navigation(url=re.compile(r"since=\d+"), timeout=120_000):
            page.get_by_role("button", name=re.compile("^Re-plan")).click()
        page.wait_for_selector("#changes")
        assert "pin kept" in page.locator(f"#bookings tr[data-booking='{booking}'] [data-pin-state]").inner_text()
        after = _plan(planned)
        assert {s["booking_id"]: r["medic_id"] for r in after["routes"] for s in r["stops"]}[booking] == other
    finally:
        page.context.close()


def test_move_that_breaks_a_window_is_refused_with_the_rules_words(browser: Any, planned: PlannedDay) -> None:
    """The earliest-closing stop moved last onto the route that ends latest: the check refuses it, naming the
    booking's time windows, and no version is published."""
    plan = _plan(planned)
    windows = {b: s.window for b, s in planned.bookings.items()}
    # the seeded bookings (the form test added one more)
    stops = [(s["booking_id"], r["medic_id"]) for r in plan["routes"] for s in r["stops"] if s["booking_id"] in windows]
    early = min(stops, key=lambda stop: windows[stop[0]][1])[0]
    latest = max(plan["routes"], key=lambda route: route["stops"][-1]["start"] if route["stops"] else "")
    page = _sign_in(browser, planned)
    try:
        _board(page, planned)
        page.get_by_role("button", name=f"Move booking {early}", exact=True).first.click()
        form = page.locator("#move-form")
        form.get_by_label("to", exact=True).select_option(str(latest["medic_id"]))
        form.get_by_label("as stop").fill("99")
        form.get_by_role("button", name="Check move").click()
        verdict = page.locator("#move-result")
        verdict.get_by_text("Refused").wait_for()
        assert f"visit booking {early} starts outside all of its time windows" in verdict.inner_text()
        assert page.get_by_role("button", name="Make this move").count() == 0
        assert _plan(planned)["version"] == plan["version"]
    finally:
        page.context.close()


def test_cross_site_form_and_medic_cookie_are_refused(browser: Any, planned: PlannedDay) -> None:
    """A page of another site posts a form to the re-plan route from a signed-in browser: refused, nothing queued.
    A medic signed in on the console lands on their route page, and the board is a 403 to them."""
    page = _sign_in(browser, planned)
    try:
        version = _plan(planned)["version"]
        page.goto("about:blank")
        page.set_content(
            f'<form method="post" action="{planned.base_url}/plans/{planned.day.isoformat()}">'
            '<input name="x" value="1"><button>go</button></form>'
        )
        with page.expect_navigation():
            page.get_by_role("button", name="go").click()
        assert "not authenticated" in page.content()
        time.sleep(1)
        assert _plan(planned)["version"] == version
    finally:
        page.context.close()
    medic = next(iter(planned.usernames.values()))
    page = _sign_in(browser, planned, medic)
    try:
        assert "/me/route-sheets/" in page.url, page.url
        response = page.goto(f"{planned.base_url}/console/{planned.day.isoformat()}")
        assert response is not None and response.status == 403
    finally:
        page.context.close()

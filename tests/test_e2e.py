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

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
DENVER = ZoneInfo("America/Denver")
PASSWORD = "e2e correct horse battery"
CONFIG = """\
[solver]
time_limit_s = 2
workers = 1
"""
PLAN_TIMEOUT_S = 90.0
TERMINAL = frozenset({"published", "unchanged", "failed", "busy"})
PUMPS = 4
#: a tap target at least this tall and wide (Apple's HIG: 44 pt)
MIN_TAP_PX = 44
PHONE = {"width": 375, "height": 812}


# --------------------------------------------------------------------- the server process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dripline() -> str:
    """The venv's console script (``[project.scripts] dripline = "api.cli:main"``)."""
    script = Path(sys.executable).parent / "dripline"
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project into the venv (scripts/setup.sh)")
    return str(script)


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): tells a process from a later one with its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _descendants(root: int) -> list[tuple[int, str]]:
    """(pid, start time) of every live descendant of ``root``, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[tuple[int, str]] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        started = _start_time(pid)
        if started is not None:
            found.append((pid, started))
        pending += children.get(pid, [])
    return found


@dataclass
class Server:
    """A running ``dripline serve``; :meth:`stop` ends it and everything it started."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no server log>"

    def stop(self) -> None:
        # the solver runs in a child that makes its own process group: find every descendant first
        family = _descendants(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        for pid, started in family:
            if _start_time(pid) == started:  # still that same process
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_server(folder: Path, db_url: str, env: dict[str, str]) -> Server:
    """``dripline serve`` on a free loopback port; returns once /health answers."""
    for _attempt in range(3):
        port = _free_port()
        # the address clients reach the server by, as an operator configures it (feeds are built from it)
        (folder / "config.toml").write_text(f'{CONFIG}\n[api]\npublic_url = "http://127.0.0.1:{port}"\n')
        log_path = folder / f"server-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [_dripline(), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url, "--workers", "2"],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches its workers
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                    return server
            time.sleep(0.2)
        server.stop()
        if "address already in use" not in server.log_tail().lower():  # lost a race for the port: try another
            pytest.fail(f"dripline serve did not come up:\n{server.log_tail()}")
    pytest.fail("dripline serve found no free port in three attempts")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("e2e")
    (folder / "config.toml").write_text(CONFIG)
    env = {**os.environ, "DRIPLINE_CONFIG": str(folder / "config.toml"), "PYTHONUNBUFFERED": "1"}
    env.pop("DRIPLINE_DATABASE_URL", None)
    db_url = f"sqlite:///{folder / 'e2e.db'}"
    made = subprocess.run(
        [_dripline(), "users", "add", "admin", "--role", "admin", "--password-stdin", "--db", db_url],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, f"dripline users add failed: {made.stdout}{made.stderr}"
    # a new user seeds the catalogue explicitly, as the README says
    seeded = subprocess.run(
        [_dripline(), "catalogue", "seed", "--db", db_url],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0 and "8 default service(s) added" in seeded.stdout, seeded.stdout + seeded.stderr
    running = start_server(folder, db_url, env)
    try:
        yield running
    finally:
        running.stop()
    assert running.process.returncode is not None


# --------------------------------------------------------------------- the day, over HTTP


@dataclass
class MedicSeed:
    name: str
    role: str
    home: tuple[float, float]


@dataclass
class BookingSeed:
    where: tuple[float, float]
    kind: str
    window: tuple[str, str]
    services: list[str]

    @property
    def parts(self) -> int:
        return math.ceil(len(self.services) / PUMPS)


MEDICS = (
    MedicSeed("Rowan Testmedic", "RN", (39.7450, -104.9850)),
    MedicSeed("Sasha Testmedic", "paramedic", (39.7300, -105.0100)),
    MedicSeed("Devon Testmedic", "NP", (39.7600, -104.9700)),
)
#: around downtown Denver (39.74, -104.99), every point within 0.05 degrees
BOOKINGS = (
    BookingSeed((39.7520, -104.9990), "home", ("09:00", "11:00"), ["hydration"]),
    BookingSeed((39.7310, -104.9620), "office", ("09:30", "11:30"), ["myers", "b12"]),
    BookingSeed((39.7650, -105.0200), "home", ("10:00", "12:00"), ["magnesium"]),
    BookingSeed((39.7180, -104.9780), "hotel", ("10:00", "13:00"), ["hydration"] * 3 + ["hangover"] * 2),
    BookingSeed((39.7050, -105.0300), "home", ("11:00", "13:00"), ["recovery"]),
    BookingSeed((39.7780, -104.9500), "home", ("12:00", "14:00"), ["immunity"]),
    BookingSeed((39.7400, -104.9400), "office", ("13:00", "15:00"), ["hydration"]),
    BookingSeed((39.7230, -105.0050), "home", ("11:00", "16:00"), ["nad"]),
)


#: made-up given names, so that each patient's display name ("Dana T.") differs on the page
GIVEN = ("Dana", "Eli", "Farah", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena", "Milo", "Nora", "Otis", "Pia")


def service_day() -> date:
    """A future day (a week from today in Denver), so nothing about the day is in the past."""
    return datetime.now(DENVER).date() + timedelta(days=7)


def _at(day: date, hhmm: str) -> str:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, clock(hour, minute), DENVER).isoformat()


def _ok(response: httpx.Response, *expected: int) -> Any:
    assert response.status_code in (expected or (200,)), (
        f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
    )
    return response.json() if response.content else None


def login(client: httpx.Client, username: str) -> dict[str, str]:
    body = _ok(client.post("/auth/token", json={"username": username, "password": PASSWORD}))
    assert body["token_type"] == "bearer"
    return {"Authorization": f"Bearer {body['access_token']}"}


def medic_body(seed: MedicSeed, day: date) -> dict[str, Any]:
    lat, lon = seed.home
    return {
        "name": seed.name,
        "role": seed.role,
        "home": {"address": f"{seed.name.split()[0]}'s home, Denver, CO", "lat": lat, "lon": lon},
        "stock": {"saline_bag": 12, "nad_vial": 2, "magnesium_vial": 4},
        "pumps": PUMPS,
        "credentials": [
            {"kind": "licence", "expires_on": (day + timedelta(days=365)).isoformat()},
            {"kind": "iv_certification", "expires_on": (day + timedelta(days=180)).isoformat()},
        ],
    }


def booking_body(number: int, seed: BookingSeed, day: date) -> dict[str, Any]:
    lat, lon = seed.where
    return {
        "service_date": day.isoformat(),
        "window_start": _at(day, seed.window[0]),
        "window_end": _at(day, seed.window[1]),
        "place": {
            "address": f"{100 + number} E2E Testway, Denver, CO 80202",
            "kind": seed.kind,
            "lat": lat,
            "lon": lon,
            "access_notes": f"buzz {number}0{number}" if seed.kind != "home" else "",
        },
        "patients": [
            {
                "full_name": f"{GIVEN[(number + k) % len(GIVEN)]} Testpatient{number}x{k}",
                "phone": f"+1-720-555-{number:02d}{k:02d}",
                "date_of_birth": "1988-04-12",
                "screening": {"kidney_disease": False, "arrhythmia": False, "interacting_medication": False},
                "service": service,
                "first_visit": k == 0,
            }
            for k, service in enumerate(seed.services)
        ],
    }


@dataclass
class PlannedDay:
    base_url: str
    day: date
    #: booking id -> its seed
    bookings: dict[int, BookingSeed]
    #: medic id -> the medic's Authorization header
    medic_headers: dict[int, dict[str, str]]
    plan: dict[str, Any]
    server: Server
    #: medic id -> the medic's username
    usernames: dict[int, str] = field(default_factory=dict)
    #: medic id -> their sheet JSON (absent: the medic has no sheet on the day)
    sheets: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: medic ids whose sheet was a 404
    no_sheet: list[int] = field(default_factory=list)


def plan_and_wait(client: httpx.Client, headers: dict[str, str], day: date, server: Server) -> dict[str, Any]:
    """POST /plans/{day}, then poll the job until it ends; returns the final job body."""
    job = _ok(client.post(f"/plans/{day.isoformat()}", headers=headers), 202)
    status_url = job.get("status_url") or f"/plans/jobs/{job['job_id']}"
    deadline = time.monotonic() + PLAN_TIMEOUT_S
    body = job
    while time.monotonic() < deadline:
        body = _ok(client.get(status_url, headers=headers))
        if body["status"] in TERMINAL:
            return dict(body)
        time.sleep(0.5)
    pytest.fail(f"plan job still {body.get('status')!r} after {PLAN_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def planned(server: Server) -> PlannedDay:
    day = service_day()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        admin = login(client, "admin")
        account = {"username": "dispatch", "password": PASSWORD, "role": "dispatcher"}
        _ok(client.post("/users", headers=admin, json=account), 201)
        dispatcher = login(client, "dispatch")

        medic_ids = []
        for seed in MEDICS:
            made = _ok(client.post("/medics", headers=dispatcher, json=medic_body(seed, day)), 201)
            medic_ids.append(int(made["id"]))
            shift = {
                "medic_id": made["id"],
                "service_date": day.isoformat(),
                "starts_at": _at(day, "08:00"),
                "ends_at": _at(day, "17:00"),
                "hard_end_at": _at(day, "18:00"),
            }
            _ok(client.post("/shifts", headers=dispatcher, json=shift), 201)

        bookings: dict[int, BookingSeed] = {}
        for number, seed in enumerate(BOOKINGS, start=1):
            made = _ok(client.post("/bookings", headers=dispatcher, json=booking_body(number, seed, day)), 201)
            bookings[int(made["id"])] = seed

        medic_headers, usernames = {}, {}
        for medic_id, seed in zip(medic_ids, MEDICS, strict=True):
            username = seed.name.split()[0].lower()
            usernames[medic_id] = username
            account = {"username": username, "password": PASSWORD, "role": "medic", "medic_id": medic_id}
            _ok(client.post("/users", headers=admin, json=account), 201)
            medic_headers[medic_id] = login(client, username)

        job = plan_and_wait(client, dispatcher, day, server)
        assert job["status"] == "published", f"plan job ended {job}:\n{server.log_tail()}"
        plan = _ok(client.get(f"/plans/{day.isoformat()}", headers=dispatcher))
        assert plan["version"] == job["plan_version"], (plan["version"], job)

        result = PlannedDay(server.base_url, day, bookings, medic_headers, plan, server, usernames)
        for medic_id, headers in medic_headers.items():
            response = client.get(f"/me/route-sheets/{day.isoformat()}", headers=headers)
            if response.status_code == 404:
                result.no_sheet.append(medic_id)
            else:
                result.sheets[medic_id] = _ok(response)
        return result


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

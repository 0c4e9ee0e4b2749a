"""The end-to-end tests' world: a real ``dripline serve`` process on a temporary SQLite file and config (a
2-second, one-worker solver, two server workers as in production), and a service day made over HTTP: three
medics (RN, paramedic, NP) with shifts, credentials and accounts, and eight bookings around downtown Denver,
one of them a five-patient hotel group split into two parts, planned by a dispatcher.

Each e2e module makes its own server from :func:`running_server` and day from :func:`plan_the_day`, as module
fixtures. The server, and any process it started, is stopped at the end of the module whatever happens.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

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


def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A module's ``dripline serve`` on a fresh SQLite file, with an admin account and the seeded catalogue;
    stopped (with everything it started) when the module is done. Use it as a module fixture."""
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


def plan_the_day(server: Server) -> PlannedDay:
    """Over HTTP: a dispatcher, three medics with shifts and accounts, eight bookings, and the plan; each
    medic's sheet read back."""
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

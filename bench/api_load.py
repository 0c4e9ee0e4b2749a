"""Route-sheet reads under load, through a re-plan: the real ``dripline serve`` on loopback.

    python -m bench.api_load [--medics 200] [--bookings-per-medic 3] [--clients 200] [--duration 20]
                             [--max-requests 5000] [--think-ms 0] [--burst] [--replan-after 3]
                             [--solver-seconds 60] [--server-workers 1] [--db URL] [--json out.json]
                             [--path /health]

It seeds a day directly through the dispatch layer: the catalogue, ``--medics`` medics around
Denver (valid credentials, a five-hour shift with no overtime, starts staggered from 07:00 to
13:00), ``--bookings-per-medic`` bookings within 3 km of each medic's home in windows inside that
shift (so each medic's own bookings fill their day and every medic is needed), one account per
medic made with :func:`dispatch.access.accounts.create_user`, and a dispatcher. It starts ``dripline
serve`` on a free 127.0.0.1 port with a temporary config, publishes a plan over HTTP (POST
/plans/{date}, polling the job), and logs every medic in. Then ``--clients`` concurrent clients
(asyncio, one ``httpx.AsyncClient`` and one connection each, like one phone each) read their own
sheet, GET /me/route-sheets/{date}, back to back (or ``--think-ms`` apart) for ``--duration``
seconds, at most ``--max-requests`` each; with ``--burst``, all of them at the same moments,
``--think-ms`` apart (everyone opens the app when the plan comes out). ``--server-workers`` is
``dripline serve --workers``. ``--replan-after`` seconds in, one booking's window is
moved in the database (so the input differs) and the day is re-planned over HTTP while the clients
keep reading; the bench then waits for the re-plan's outcome.

Prints requests/s and the p50, p95, p99 and max latency of the sheet reads (all, and before,
during and after the re-plan); errors by kind (a 404 to a medic with no route on the plan is not an
error: there is no sheet to read); the plan versions the sheets came from; whether the re-plan
published; and the CPU seconds of this process (the load generator) and of the server, which share
the machine's cores. The first read of each client opens its connection: its errors count, its
latency does not. With ``--think-ms`` the clients start at random moments within one think time.
Target: p95 <= 100 ms and no errors.

The solver settings are the bench's, not production's: ``--solver-seconds`` (60 by default) and
one worker, so that the re-plan is busy for the whole load: a 200-medic
day's first-solution heuristic takes 20 to 30 s on a small machine. (With a shorter limit the solver's
first-plan grace still finds a plan.) The bench stops if the first plan has no routes.

Only loopback addresses are used. The server, and anything it started, is stopped at the end.
``--db`` takes an empty database (its schema is migrated); by default a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from dispatch.access.accounts import AccountRole, create_user
from dispatch.demo.areas import AREAS, DENVER, Area, point_in
from dispatch.records.catalogue import seed_services
from dispatch.store.db import make_engine, migrate, session_scope
from dispatch.store.tables import (
    Booking,
    BookingPatient,
    Credential,
    GeocodeStatus,
    Medic,
    Patient,
    Place,
    PlaceKind,
    Role,
    Service,
    ShiftRow,
)

PASSWORD = "bench load password 1"
TARGET_P95_MS = 100.0
TERMINAL = frozenset({"published", "unchanged", "failed", "busy"})
#: shift start hours, in turn; each shift is SHIFT_HOURS long with no overtime, so that a medic's own
#: bookings fill it and nobody has room for another's: every medic gets a route and a sheet
STARTS = (7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0)
SHIFT_HOURS = 5.0
#: services every role may give, so any medic can take any booking
CODES = ("hydration", "myers", "hangover", "recovery", "immunity", "b12")
FIRST = ("Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Avery", "Quinn")
LAST = ("Reyes", "Novak", "Kim", "Okafor", "Larsen", "Baptiste", "Moreau", "Sato", "Haddad")


# --------------------------------------------------------------------- the day, seeded directly


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, clock(0), DENVER) + timedelta(minutes=round(hour * 60))


def seed_day(url: str, day: date, medics: int, per_medic: int, preferred_share: float, rng: random.Random) -> int:
    """The catalogue, medics with shifts and credentials, and their bookings; returns a booking id to change later."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with Session(engine) as session:
            if session.exec(select(Medic.id)).first() is not None:
                raise SystemExit(f"api_load: {url} already holds medics; give it an empty database")
        with session_scope(engine) as session:
            seed_services(session)
            session.flush()
            services = {s.code: s.id or 0 for s in session.exec(select(Service)).all()}
            for k in range(medics):
                medic_id = _medic(session, rng, day, k)
                for j in range(per_medic):
                    preferred = medic_id if rng.random() < preferred_share else None
                    _booking(session, rng, day, medic_id, k, j, services, preferred)
        with Session(engine) as session:
            first_booking = session.exec(select(Booking.id).order_by(col(Booking.id))).first()
        assert first_booking is not None
        return first_booking
    finally:
        engine.dispose()


def seed_accounts(url: str) -> list[tuple[int, str]]:
    """A dispatcher and one account per medic; returns [(medic id, username)].

    :func:`dispatch.access.accounts.create_user` hashes with Argon2id at the production cost, so this takes a while.
    """
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            create_user(session, username="bench-dispatch", password=PASSWORD, role=AccountRole.DISPATCHER)
            accounts = []
            for medic_id in session.exec(select(Medic.id).order_by(col(Medic.id))).all():
                assert medic_id is not None
                username = f"bench-medic-{medic_id}"
                create_user(session, username=username, password=PASSWORD, role=AccountRole.MEDIC, medic_id=medic_id)
                accounts.append((medic_id, username))
        return accounts
    finally:
        engine.dispose()


def _medic(session: Session, rng: random.Random, day: date, k: int) -> int:
    area = AREAS[k % 4]  # Denver core, Denver south, Aurora, Lakewood
    where = point_in(rng, area)
    home = Place(
        address=f"{rng.randint(100, 9999)} Bench St, {area.name}, CO",
        kind=PlaceKind.HOME,
        lat=where.lat,
        lon=where.lon,
        geocode_status=GeocodeStatus.GIVEN,
    )
    session.add(home)
    session.flush()
    role = rng.choices([Role.RN, Role.PARAMEDIC, Role.NP], weights=[0.55, 0.3, 0.15])[0]
    medic = Medic(
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {k + 1}",
        role=role,
        home_place_id=home.id or 0,
        stock={"saline_bag": 12, "nad_vial": 2, "magnesium_vial": 4},
        pumps=4,
    )
    session.add(medic)
    session.flush()
    assert medic.id is not None
    session.add(Credential(medic_id=medic.id, kind="licence", expires_on=day + timedelta(days=365)))
    session.add(Credential(medic_id=medic.id, kind="iv_certification", expires_on=day + timedelta(days=180)))
    begin = STARTS[k % len(STARTS)]
    finish = begin + SHIFT_HOURS
    session.add(
        ShiftRow(
            medic_id=medic.id,
            service_date=day,
            starts_at=_at(day, begin),
            ends_at=_at(day, finish),
            hard_end_at=_at(day, finish),
        )
    )
    return medic.id


def _booking(
    session: Session,
    rng: random.Random,
    day: date,
    medic_id: int,
    k: int,
    j: int,
    services: dict[str, int],
    preferred: int | None,
) -> None:
    """Booking ``j`` of medic ``k``: within 3 km of their home, in a window inside their shift."""
    home = session.get(Place, session.get(Medic, medic_id).home_place_id)  # type: ignore[union-attr]
    assert home is not None and home.lat is not None and home.lon is not None
    where = point_in(rng, Area("near", home.lat, home.lon, 3.0, 1.0))
    kind = rng.choices([PlaceKind.HOME, PlaceKind.OFFICE, PlaceKind.HOTEL], weights=[0.7, 0.15, 0.15])[0]
    place = Place(
        address=f"{rng.randint(100, 9999)} Load Test Ave, Denver, CO",
        kind=kind,
        lat=where.lat,
        lon=where.lon,
        access_notes="" if kind is PlaceKind.HOME else "front desk",
        geocode_status=GeocodeStatus.GIVEN,
    )
    session.add(place)
    session.flush()
    opens = STARTS[k % len(STARTS)] + 0.25 + 1.4 * j
    booking = Booking(
        place_id=place.id or 0,
        service_date=day,
        window_start=_at(day, opens),
        window_end=_at(day, opens + 1.0),
        preferred_medic_id=preferred,
    )
    session.add(booking)
    session.flush()
    first, last = rng.choice(FIRST), rng.choice(LAST)
    patient = Patient(
        full_name=f"{first} {last}",
        display_name=f"{first} {last[0]}.",
        phone=f"+1-720-555-{rng.randint(0, 9999):04d}",
        date_of_birth=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        screening={},
    )
    session.add(patient)
    session.flush()
    session.add(
        BookingPatient(
            booking_id=booking.id or 0,
            patient_id=patient.id or 0,
            service_id=services[rng.choice(CODES)],
            first_visit=rng.random() < 0.3,
        )
    )


def move_window(url: str, booking_id: int, minutes: int) -> None:
    """Change one booking (its window, later by ``minutes``), so the next re-plan's input differs."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            booking = session.get(Booking, booking_id)
            assert booking is not None
            booking.window_start += timedelta(minutes=minutes)
            booking.window_end += timedelta(minutes=minutes)
            session.add(booking)
    finally:
        engine.dispose()


# --------------------------------------------------------------------- the server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its waited-for children (a finished solve counts)."""
    fields = _stat(pid)
    if fields is None:
        return float("nan")
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(root: int) -> float:
    """CPU seconds of the server and every live process under it (workers, a re-plan and its solve)."""
    return cpu_seconds(root) + sum(cpu_seconds(pid) for pid, _ in descendants(root))


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, start time) of each live descendant of ``root`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], list(children.get(root, []))
    while pending:
        pid = pending.pop()
        fields = _stat(pid)
        if fields:
            found.append((pid, fields[19]))
        pending += children.get(pid, [])
    return found


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "<no log>"

    def stop(self) -> None:
        family = descendants(self.process.pid)  # the solver child leaves the process group: find it first
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
            fields = _stat(pid)
            if fields and fields[19] == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_server(folder: Path, db_url: str, env: dict[str, str], workers: int = 1) -> Server:
    script = Path(sys.executable).parent / "dripline"
    port = free_port()
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(script),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                db_url,
                "--workers",
                str(workers),
            ],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"api_load: dripline serve did not come up:\n{server.log_tail()}")


# --------------------------------------------------------------------- load


@dataclass
class Sample:
    medic_id: int
    at: float  # seconds since the load began, when the request was sent
    latency_s: float
    status: int  # 0: no answer (an exception)
    version: int | None
    error: str = ""
    #: the client's first read, which also opens its connection: its errors count, its latency does not
    warmup: bool = False


@dataclass
class Replan:
    triggered_at: float | None = None
    #: how long POST /plans/{date} took to answer 202, under the load
    post_s: float | None = None
    finished_at: float | None = None
    status: str = "not triggered"
    version: int | None = None
    detail: str = ""


@dataclass
class Report:
    medics: int
    bookings: int
    clients: int
    clients_without_sheet: int
    duration_s: float
    think_ms: float
    burst: bool
    server_workers: int
    loop: str
    sheet_reads: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    no_sheet_404s: int
    #: every answer (warm-ups included), by HTTP status or exception class
    responses: dict[str, int]
    errors: int
    errors_by_kind: dict[str, int]
    versions_seen: dict[str, int]
    phases: dict[str, dict[str, float]]
    initial_plan: dict[str, Any]
    replan: dict[str, Any]
    client_cpu_s: float
    server_cpu_s: float
    meets_target: bool


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list (q in 0..1)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(samples: list[Sample], seconds: float) -> dict[str, float]:
    ordered = sorted(s.latency_s * 1000 for s in samples)
    return {
        "reads": len(samples),
        "requests_per_s": len(samples) / seconds if seconds > 0 else float("nan"),
        "p50_ms": percentile(ordered, 0.50),
        "p95_ms": percentile(ordered, 0.95),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else float("nan"),
    }


async def wait_for_job(client: httpx.AsyncClient, headers: dict[str, str], job: Any, timeout_s: float) -> Any:
    """Poll a plan job until it ends (or ``timeout_s`` passes); the job's last body. A poll that fails is retried."""
    status_url = job.get("status_url") or f"/plans/jobs/{job['job_id']}"
    deadline = time.monotonic() + timeout_s
    body = job
    while time.monotonic() < deadline:
        try:
            response = await client.get(status_url, headers=headers)
            response.raise_for_status()
        except httpx.HTTPError as error:
            print(f"  (a poll of the plan job failed: {type(error).__name__}; polling on)", flush=True)
        else:
            body = response.json()
            if body["status"] in TERMINAL:
                return body
        await asyncio.sleep(0.5)
    return {**body, "status": f"still {body.get('status')} after {timeout_s:.0f} s"}


async def routed_medics(client: httpx.AsyncClient, headers: dict[str, str], day: date) -> tuple[Any, set[int]]:
    """The published plan, and the medics with at least one stop on it."""
    response = await client.get(f"/plans/{day.isoformat()}", headers=headers)
    response.raise_for_status()
    plan = response.json()
    return plan, {int(r["medic_id"]) for r in plan["routes"] if r["stops"]}


async def log_in(base_url: str, accounts: list[tuple[int, str]], parallel: int) -> dict[int, dict[str, str]]:
    """A bearer header per medic; ``parallel`` logins at a time (each is an Argon2id verification)."""
    gate = asyncio.Semaphore(parallel)
    headers: dict[int, dict[str, str]] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one(medic_id: int, username: str) -> None:
            async with gate:
                response = await client.post("/auth/token", json={"username": username, "password": PASSWORD})
                response.raise_for_status()
                headers[medic_id] = {"Authorization": f"Bearer {response.json()['access_token']}"}

        await asyncio.gather(*(one(m, u) for m, u in accounts))
    return headers


def phone_client(base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    """One phone's client: one connection. Made before the clock starts: making one is milliseconds of
    CPU (an SSL context, even for plain HTTP) that would otherwise stall the other clients' timings."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30, limits=limits)


async def reader(
    medic_id: int,
    client: httpx.AsyncClient,
    path: str,
    began: float,
    stop_at: float,
    args: argparse.Namespace,
    samples: list[Sample],
) -> None:
    """One phone: its own connection, reading its own sheet until ``stop_at`` (at most --max-requests times).

    With --think-ms the phones start at random moments within one think time, as phones do; with
    --burst they all read at the same moments, one think time apart (everyone opens the app at once).
    """
    think_s = args.think_ms / 1000
    if think_s and not args.burst:
        await asyncio.sleep(random.uniform(0, think_s))
    async with client:
        for number in range(args.max_requests + 1):
            if args.burst and number:
                await asyncio.sleep(max(0.0, began + number * think_s - time.perf_counter()))
            sent = time.perf_counter()
            if number and sent >= stop_at:
                break
            status, version, error = 0, None, ""
            try:
                response = await client.get(path)
                status = response.status_code
                if status == 200:
                    version = response.json().get("plan_version")
            except httpx.HTTPError as failure:
                error = type(failure).__name__
            latency = time.perf_counter() - sent
            samples.append(Sample(medic_id, sent - began, latency, status, version, error, warmup=number == 0))
            if think_s and not args.burst:
                await asyncio.sleep(think_s)


async def replan_during_load(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    db_url: str,
    booking_id: int,
    day: date,
    began: float,
    args: argparse.Namespace,
) -> Replan:
    """After --replan-after seconds: move one booking's window, re-plan the day, and follow the job."""
    await asyncio.sleep(args.replan_after)
    outcome = Replan()
    await asyncio.to_thread(move_window, db_url, booking_id, 30)
    outcome.triggered_at = time.perf_counter() - began
    try:
        response = await client.post(f"/plans/{day.isoformat()}", headers=headers)
        outcome.post_s = time.perf_counter() - began - outcome.triggered_at
        response.raise_for_status()
    except httpx.HTTPError as error:
        outcome.status, outcome.detail = "error", f"POST /plans: {type(error).__name__}: {error}"
        return outcome
    body = await wait_for_job(client, headers, response.json(), args.solver_seconds + 180)
    outcome.finished_at = time.perf_counter() - began
    outcome.status, outcome.version = str(body["status"]), body.get("plan_version")
    outcome.detail = str(body.get("detail") or "")
    return outcome


async def run(
    args: argparse.Namespace, server: Server, db_url: str, day: date, accounts: list[tuple[int, str]], booking_id: int
) -> Report:
    base = server.base_url
    # the dispatcher's requests are not what is measured: a long timeout, and their waits are reported
    async with httpx.AsyncClient(base_url=base, timeout=300) as control:
        response = await control.post("/auth/token", json={"username": "bench-dispatch", "password": PASSWORD})
        response.raise_for_status()
        dispatcher = {"Authorization": f"Bearer {response.json()['access_token']}"}

        clock_0 = time.perf_counter()
        response = await control.post(f"/plans/{day.isoformat()}", headers=dispatcher)
        response.raise_for_status()
        first = await wait_for_job(control, dispatcher, response.json(), args.solver_seconds + 180)
        first_s = time.perf_counter() - clock_0
        if first["status"] != "published":
            raise SystemExit(f"api_load: the first plan did not publish: {first}\n{server.log_tail()}")
        plan, routed_before = await routed_medics(control, dispatcher, day)
        initial = {
            "version": plan["version"],
            "seconds": round(first_s, 1),
            "solver": plan.get("solver", {}).get("strategy"),
            "medics_with_stops": len(routed_before),
            "stops": sum(len(r["stops"]) for r in plan["routes"]),
            "unassigned": len(plan["unassigned"]),
        }
        print(
            f"plan v{plan['version']} published in {first_s:.0f} s: {initial['stops']} stops on the routes of "
            f"{len(routed_before)} medics, {initial['unassigned']} booking parts unassigned",
            flush=True,
        )
        if not routed_before:
            raise SystemExit("api_load: the published plan has no routes (the solver found no plan in its time)")

        clock_0 = time.perf_counter()
        headers = await log_in(base, accounts, parallel=4)
        print(f"{len(headers)} medics logged in in {time.perf_counter() - clock_0:.0f} s", flush=True)

        chosen = sorted(headers, key=lambda m: (m not in routed_before, m))[: args.clients]
        path = args.path or f"/me/route-sheets/{day.isoformat()}"
        samples: list[Sample] = []
        print(
            f"load: {len(chosen)} clients for {args.duration:g} s, re-plan {args.replan_after:g} s in",
            flush=True,
        )
        phones = {m: phone_client(base, headers[m]) for m in chosen}
        cpu_client, cpu_server = time.process_time(), server_cpu_seconds(server.process.pid)
        began = time.perf_counter()
        stop_at = began + args.duration
        replan_task = asyncio.create_task(replan_during_load(control, dispatcher, db_url, booking_id, day, began, args))
        await asyncio.gather(*(reader(m, phones[m], path, began, stop_at, args, samples) for m in chosen))
        elapsed = time.perf_counter() - began
        cpu_client = time.process_time() - cpu_client
        cpu_server = server_cpu_seconds(server.process.pid) - cpu_server
        if not replan_task.done():
            print("load over; waiting for the re-plan to end", flush=True)
        replan = await replan_task
        try:
            _, routed_after = await routed_medics(control, dispatcher, day)
        except httpx.HTTPError as error:
            print(f"  (GET /plans failed after the load: {type(error).__name__})", flush=True)
            routed_after = routed_before

    # A 404 is right for a medic with no route on the plan in force; anything else but a 200 is an error.
    without_sheet = {m for m in chosen if m not in routed_before or m not in routed_after}
    reads = [s for s in samples if s.status == 200 and not s.warmup]
    no_sheet = [s for s in samples if s.status == 404 and s.medic_id in without_sheet]
    errors = Counter(
        s.error or f"HTTP {s.status}"
        for s in samples
        if s.status != 200 and not (s.status == 404 and s.medic_id in without_sheet)
    )
    overall = summary(reads, elapsed)
    phases: dict[str, dict[str, float]] = {}
    if replan.triggered_at is not None:
        start = replan.triggered_at
        finish = min(replan.finished_at if replan.finished_at is not None else elapsed, elapsed)
        for name, picked, seconds in (
            ("before re-plan", [s for s in reads if s.at < start], start),
            ("during re-plan", [s for s in reads if start <= s.at < finish], finish - start),
            ("after re-plan", [s for s in reads if s.at >= finish], elapsed - finish),
        ):
            if picked and seconds > 0:
                phases[name] = summary(picked, seconds)
    error_total = sum(errors.values())
    return Report(
        medics=len(accounts),
        bookings=len(accounts) * args.bookings_per_medic,
        clients=len(chosen),
        clients_without_sheet=len(without_sheet),
        duration_s=round(elapsed, 1),
        think_ms=args.think_ms,
        burst=args.burst,
        server_workers=args.server_workers,
        loop=type(asyncio.get_running_loop()).__module__.split(".")[0],
        sheet_reads=len(reads),
        requests_per_s=overall["requests_per_s"],
        p50_ms=overall["p50_ms"],
        p95_ms=overall["p95_ms"],
        p99_ms=overall["p99_ms"],
        max_ms=overall["max_ms"],
        no_sheet_404s=len(no_sheet),
        responses=dict(sorted(Counter(s.error or str(s.status) for s in samples).items())),
        errors=error_total,
        errors_by_kind=dict(errors),
        versions_seen={f"v{v}": n for v, n in sorted(Counter(s.version for s in reads if s.version).items())},
        phases=phases,
        initial_plan=initial,
        replan=asdict(replan),
        client_cpu_s=round(cpu_client, 1),
        server_cpu_s=round(cpu_server, 1),
        meets_target=overall["p95_ms"] <= TARGET_P95_MS and error_total == 0,
    )


def print_report(report: Report) -> None:
    print()
    print(
        f"sheet reads (200): {report.sheet_reads} in {report.duration_s:.1f} s = {report.requests_per_s:.0f} req/s, "
        f"{report.clients} clients, {'bursts' if report.burst else 'think'} {report.think_ms:g} ms, "
        f"{report.server_workers} server worker(s), {report.loop} event loop"
    )
    print(
        f"latency ms: p50 {report.p50_ms:.1f}  p95 {report.p95_ms:.1f}  p99 {report.p99_ms:.1f}  "
        f"max {report.max_ms:.1f}"
    )
    print(f"all answers, warm-ups included: {report.responses}")
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(report.errors_by_kind.items())) or "none"
    print(f"errors: {report.errors} ({kinds})")
    if report.clients_without_sheet:
        print(
            f"  not errors: {report.no_sheet_404s} 404s to the {report.clients_without_sheet} medics "
            "with no route on the plan (no sheet to read)"
        )
    for name, figures in report.phases.items():
        print(
            f"  {name:<15} {figures['reads']:>6.0f} reads {figures['requests_per_s']:>6.0f} req/s  "
            f"p50 {figures['p50_ms']:>7.1f}  p95 {figures['p95_ms']:>7.1f}  p99 {figures['p99_ms']:>7.1f} ms"
        )
    replan = report.replan
    if replan["finished_at"] is not None:
        took = replan["finished_at"] - replan["triggered_at"]
        when = "during the load" if replan["finished_at"] <= report.duration_s else "after the load had ended"
        print(
            f"re-plan: {replan['status']} (v{replan['version']}) {took:.0f} s after the trigger at "
            f"{replan['triggered_at']:.1f} s, {when} {replan['detail']}".rstrip()
        )
        print(f"  POST /plans/{{date}} answered 202 in {replan['post_s']:.2f} s under the load")
    else:
        print(f"re-plan: {replan['status']} {replan['detail']}".rstrip())
    print(f"plan versions in the sheets read: {report.versions_seen}")
    print(
        f"CPU seconds during the load: load generator {report.client_cpu_s}, "
        f"server {report.server_cpu_s} (its workers and any re-plan and solve under it)"
    )
    verdict = "met" if report.meets_target else "MISSED"
    print(f"target p95 <= {TARGET_P95_MS:g} ms with zero errors: {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--medics", type=int, default=200)
    parser.add_argument("--bookings-per-medic", type=int, default=3)
    parser.add_argument("--preferred-share", type=float, default=0.1, help="bookings that prefer their medic")
    parser.add_argument("--clients", type=int, default=200, help="concurrent readers (at most --medics)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=5000, help="reads per client at most")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a client's reads")
    parser.add_argument("--burst", action="store_true", help="all clients read at once, every --think-ms")
    parser.add_argument(
        "--path",
        default=None,
        help="read this path instead of each medic's sheet: /health gives the floor of the HTTP stack and the "
        "load generator on this machine, for comparison",
    )
    parser.add_argument("--replan-after", type=float, default=3.0, help="seconds into the load")
    parser.add_argument("--server-workers", type=int, default=1, help="dripline serve --workers")
    parser.add_argument(
        "--solver-seconds", type=float, default=60.0, help="the server's [solver] time_limit_s (see the docstring)"
    )
    parser.add_argument("--solver-workers", type=int, default=1, help="the server's [solver] workers")
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    parser.add_argument("--server-log", type=Path, help="keep the server's output here")
    args = parser.parse_args(argv)
    if args.burst and args.think_ms <= 0:
        parser.error("--burst needs --think-ms: the time between bursts")
    day = datetime.now(DENVER).date() + timedelta(days=7)

    with tempfile.TemporaryDirectory(prefix="dripline-load-") as tmp:
        folder = Path(tmp)
        db_url = args.db or f"sqlite:///{folder / 'load.db'}"
        (folder / "config.toml").write_text(
            f"[solver]\ntime_limit_s = {args.solver_seconds}\nworkers = {args.solver_workers}\n"
        )
        env = {**os.environ, "DRIPLINE_CONFIG": str(folder / "config.toml"), "PYTHONUNBUFFERED": "1"}
        env.pop("DRIPLINE_DATABASE_URL", None)

        clock_0 = time.perf_counter()
        rng = random.Random(args.seed)
        booking_id = seed_day(db_url, day, args.medics, args.bookings_per_medic, args.preferred_share, rng)
        accounts = seed_accounts(db_url)
        print(
            f"seeded {day}: {args.medics} medics, {args.medics * args.bookings_per_medic} bookings, "
            f"{len(accounts) + 1} accounts in {time.perf_counter() - clock_0:.0f} s",
            flush=True,
        )
        server = start_server(folder, db_url, env, args.server_workers)
        print(f"dripline serve at {server.base_url} (pid {server.process.pid})", flush=True)
        try:
            loop_factory = None
            with contextlib.suppress(ImportError):
                import uvloop

                loop_factory = uvloop.new_event_loop
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                report = runner.run(run(args, server, db_url, day, accounts, booking_id))
        except BaseException:
            print(f"server log, last lines:\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()
            if args.server_log:
                shutil.copyfile(server.log_path, args.server_log)
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")


if __name__ == "__main__":
    main()

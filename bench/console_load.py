"""The console's day board on a large day: server time, and the page drawn in Chromium.

The large generated day (600 bookings, 60 medics: :data:`dispatch.demo.LARGE`) is seeded into a fresh SQLite
file and planned (``[solver] time_limit_s``, 10 s by default here). A real ``dripline serve`` (one worker)
serves it; a dispatcher signs in through the console's form. Then:

* server time: ``GET /console/{day}`` over HTTP on loopback, ``--requests`` times, one at a time (the whole
  answer: the board read, the audit row, the page rendered);
* drawn: the board opened in headless Chromium at 1440 x 900, ``--loads`` times, from navigation start until
  the map has drawn every marker and line (``#map[data-drawn-ms]``, set by console.js after drawing).

Targets (issue 13): server time at most 300 ms, drawn within 2 s. Medians and the 90th percentile are
printed; the machine is shared, so quote medians.

    python -m bench.console_load [--requests 30] [--loads 5] [--time-limit 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from bench.api_load import start_server
from dispatch.access.accounts import AccountRole, create_user
from dispatch.demo import LARGE, seed_day
from dispatch.planning.day import plan_day
from dispatch.records.catalogue import seed_services
from dispatch.store.config import Settings
from dispatch.store.db import make_engine, migrate, session_scope
from routing import SolveParams

PASSWORD = "console bench correct horse"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def prepare(folder: Path, day: date, seed: int, time_limit: float) -> tuple[str, str]:
    """The planned large day in ``folder``; returns (database URL, plan summary)."""
    url = f"sqlite:///{folder / 'console.db'}"
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        seed_services(session)
        session.flush()
        made = seed_day(session, day, LARGE, seed=seed)
        create_user(session, username="bench-dispatch", password=PASSWORD, role=AccountRole.DISPATCHER)
    settings = Settings(solver=SolveParams(time_limit_s=time_limit))
    outcome = plan_day(engine, day, settings)
    engine.dispose()
    if outcome.status != "published":
        raise SystemExit(f"console_load: the day was not published: {outcome.status} {outcome.detail}")
    return url, f"{made.bookings} bookings, {LARGE.medics} medics, plan version {outcome.version}"


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.0f} ms, p90 {p90:.0f} ms, min {ordered[0]:.0f} ms (n={len(ordered)})"


def server_times(base_url: str, day: date, requests: int) -> tuple[list[float], int]:
    with httpx.Client(base_url=base_url, timeout=60, follow_redirects=False) as client:
        signed = client.post("/console/login", data={"username": "bench-dispatch", "password": PASSWORD})
        if signed.status_code != 303:
            raise SystemExit(f"console_load: sign-in failed: {signed.status_code}")
        client.get(f"/console/{day.isoformat()}")  # warm: templates compiled, connections open
        times, size = [], 0
        for _ in range(requests):
            began = time.perf_counter()
            page = client.get(f"/console/{day.isoformat()}")
            times.append((time.perf_counter() - began) * 1000)
            if page.status_code != 200:
                raise SystemExit(f"console_load: the board answered {page.status_code}")
            size = len(page.content)
    return times, size


def drawn_times(base_url: str, day: date, loads: int) -> tuple[list[float], dict[str, int]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.goto(f"{base_url}/console/login")
            page.get_by_label("Username").fill("bench-dispatch")
            page.get_by_label("Password").fill(PASSWORD)
            with page.expect_navigation():
                page.get_by_role("button", name="Sign in").click()
            times: list[float] = []
            counts: dict[str, int] = {}
            for _ in range(loads + 1):  # the first load warms the browser's cache of the scripts
                page.goto(f"{base_url}/console/{day.isoformat()}")
                page.wait_for_selector("#map[data-drawn-ms]", timeout=60_000)
                times.append(float(page.get_attribute("#map", "data-drawn-ms") or "nan"))
                counts = {
                    "stop markers": page.locator(".stop-marker").count(),
                    "timeline rows": page.locator(".timeline-row").count(),
                    "unassigned rows": page.locator("#unassigned tbody tr[data-booking]").count(),
                }
            return times[1:], counts
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_load", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    day = date(2027, 3, 6)
    with tempfile.TemporaryDirectory(prefix="dripline-console-") as scratch:
        folder = Path(scratch)
        url, planned = prepare(folder, day, args.seed, args.time_limit)
        print(f"day {day}: {planned}", flush=True)
        (folder / "config.toml").write_text("")
        env = {**os.environ, "DRIPLINE_CONFIG": str(folder / "config.toml")}
        server = start_server(folder, url, env, workers=1)
        try:
            times, size = server_times(server.base_url, day, args.requests)
            print(f"server time, GET /console/{day} ({size / 1024:.0f} KiB): {quantiles(times)}  (target <= 300 ms)")
            if CHROMIUM.exists():
                drawn, counts = drawn_times(server.base_url, day, args.loads)
                print(f"drawn in Chromium, navigation start to map drawn: {quantiles(drawn)}  (target <= 2000 ms)")
                print("on the page: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
            else:
                print(f"drawn: skipped, {CHROMIUM} is missing")
        finally:
            server.stop()


if __name__ == "__main__":
    main()

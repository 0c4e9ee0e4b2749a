"""Faults against a real ``dripline serve`` on 127.0.0.1: does it survive, and is the published plan untouched?

    python -m bench.faults [--keep DIR]

One SQLite database on a small tmpfs (so a full disk can be made on purpose; as root only, else
that fault is skipped and says so), one day of bookings planned and published over HTTP, then:

* ``edit after publish`` (issue 11.1): a published booking gets new patients, another is cancelled.
  Survived: every sheet (medic JSON, page, .ics; the dispatcher's) answers 200 and the cancelled
  patient's phone is on none of them.
* ``day over the booking cap`` and ``solver over its memory limit`` (11.3): the server restarted
  with ``[planning] max_bookings_per_day`` below the day, then ``solver_memory_mb = 256``; a
  re-plan is asked for. Survived: the job fails with day_too_large / solver_out_of_memory and
  the API still answers.
* ``kill -9 of the re-plan tree`` (11.6): the job's process and its solver killed mid-solve.
  Survived: the next poll reads failed and a new re-plan of the day is accepted at once (not 409).
* ``disk full during a solve`` (11.6 and 11.7): the tmpfs filled while the job solves. Survived:
  /ready answers 503 while the disk is full, the job reads failed once its process has gone, and
  after the disk is freed /ready is 200 and a re-plan is accepted.

"Plan unchanged" compares, byte for byte, the published plan's stored rows (version, routes,
stops) and a medic's stored sheet before and after the fault. The first fault changes the sheets
on purpose (that is the fix); for it the line says whether the stored plan itself stayed the same.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from bench.api_load import PASSWORD, Server, descendants, move_window, seed_accounts, seed_day, start_server
from dispatch.store.db import make_engine
from dispatch.store.tables import BookingPatient, Patient, Plan, PlanRoute, PlanStatus, PlanStop

CONFIG = """\
[solver]
time_limit_s = {time_limit}
workers = 1

[planning]
max_bookings_per_day = {cap}
solver_memory_mb = {memory}
"""
TERMINAL = {"published", "unchanged", "failed", "busy"}


@dataclass
class Fault:
    name: str
    survived: bool
    unchanged: bool
    detail: str

    def line(self) -> str:
        return (
            f"{self.name:<32} {'survived' if self.survived else 'DID NOT SURVIVE':<16} "
            f"plan {'byte for byte unchanged' if self.unchanged else 'CHANGED'}  ({self.detail})"
        )


class Bench:
    def __init__(self, folder: Path, db_path: Path) -> None:
        self.folder = folder
        self.url = f"sqlite:///{db_path}"
        self.day = date.today() + timedelta(days=3)
        self.env = {**os.environ, "DRIPLINE_CONFIG": str(folder / "config.toml"), "PYTHONUNBUFFERED": "1"}
        self.env.pop("DRIPLINE_DATABASE_URL", None)
        self.server: Server | None = None
        self.booking_id = 0
        self.medic: tuple[int, str] = (0, "")
        self.time_limit = 8

    # ----------------------------------------------------------------- the server

    def restart(self, cap: int = 2000, memory: int = 4096) -> None:
        self.stop()
        config = CONFIG.format(time_limit=self.time_limit, cap=cap, memory=memory)
        (self.folder / "config.toml").write_text(config)
        self.server = start_server(self.folder, self.url, self.env)
        self.client = httpx.Client(base_url=self.server.base_url, timeout=60)
        self.dispatcher = self.token("bench-dispatch")
        self.medic_headers = self.token(self.medic[1])

    def stop(self) -> None:
        if self.server is not None:
            self.client.close()
            self.server.stop()
            self.server = None

    def token(self, username: str) -> dict[str, str]:
        answer = self.client.post("/auth/token", json={"username": username, "password": PASSWORD})
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    # ----------------------------------------------------------------- the plan

    def ask_replan(self) -> httpx.Response:
        return self.client.post(f"/plans/{self.day}", headers=self.dispatcher)

    def wait_job(self, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            job: dict[str, Any] = self.client.get(f"/plans/jobs/{job_id}", headers=self.dispatcher).json()
            if job["status"] in TERMINAL or time.monotonic() > deadline:
                return job
            time.sleep(0.3)

    def replan(self) -> dict[str, Any]:
        asked = self.ask_replan()
        asked.raise_for_status()
        return self.wait_job(asked.json()["job_id"])

    def snapshot(self) -> str:
        """A digest of the published plan's stored rows and the medic's stored sheet document."""
        from dispatch.store.tables import RouteSheetRow

        digest = hashlib.sha256()
        with Session(make_engine(self.url)) as session:
            plan = session.exec(
                select(Plan).where(Plan.service_date == self.day).where(Plan.status == PlanStatus.PUBLISHED)
            ).one()
            digest.update(repr((plan.id, plan.version, plan.input_hash, plan.published_at)).encode())
            for table in (PlanRoute, PlanStop):
                for row in session.exec(select(table).where(table.plan_id == plan.id).order_by(col(table.id))):
                    digest.update(repr(sorted(row.model_dump().items())).encode())
            for sheet in session.exec(select(RouteSheetRow).where(RouteSheetRow.plan_id == plan.id)):
                digest.update(repr(sorted(sheet.model_dump().items())).encode())
        return digest.hexdigest()

    def plan_rows(self) -> str:
        """The published plan's own rows only (not its sheets, which an edit changes on purpose)."""
        digest = hashlib.sha256()
        with Session(make_engine(self.url)) as session:
            plan = session.exec(
                select(Plan).where(Plan.service_date == self.day).where(Plan.status == PlanStatus.PUBLISHED)
            ).one()
            digest.update(repr((plan.id, plan.version, plan.published_at)).encode())
            for row in session.exec(select(PlanStop).where(PlanStop.plan_id == plan.id).order_by(col(PlanStop.id))):
                digest.update(repr(sorted(row.model_dump().items())).encode())
        return digest.hexdigest()

    def sheets_ok(self) -> list[httpx.Response]:
        medic_id = self.medic[0]
        return [
            self.client.get(f"/me/route-sheets/{self.day}", headers=self.medic_headers),
            self.client.get(f"/me/route-sheets/{self.day}/page", headers=self.medic_headers),
            self.client.get(f"/me/route-sheets/{self.day}/calendar.ics", headers=self.medic_headers),
            self.client.get(f"/route-sheets/{self.day}/{medic_id}", headers=self.dispatcher),
        ]

    def change_input(self, minutes: int = 5) -> None:
        move_window(self.url, self.booking_id, minutes)

    # ----------------------------------------------------------------- the faults

    def edit_after_publish(self) -> Fault:
        before = self.plan_rows()
        sheet = self.client.get(f"/me/route-sheets/{self.day}", headers=self.medic_headers).json()
        first, second = sheet["stops"][0]["booking_id"], sheet["stops"][-1]["booking_id"]
        with Session(make_engine(self.url)) as session:
            line = session.exec(select(BookingPatient).where(BookingPatient.booking_id == second)).first()
            phone = session.get(Patient, line.patient_id).phone if line else "?"  # type: ignore[union-attr]
        patients = {"patients": [{"full_name": "Faults Newpatient", "phone": "+1 720 555 0177",
                                  "date_of_birth": "1984-03-04", "service": "hydration"}]}  # fmt: skip
        edited = self.client.patch(f"/bookings/{first}", headers=self.dispatcher, json=patients)
        cancelled = self.client.delete(f"/bookings/{second}", headers=self.dispatcher)
        reads = self.sheets_ok()
        codes = [r.status_code for r in reads]
        survived = edited.status_code == 200 and cancelled.status_code == 200 and codes == [200] * 4
        survived = survived and not any(phone in r.text for r in reads)
        return Fault(
            "edit after publish",
            survived,
            self.plan_rows() == before,
            f"edit {edited.status_code}, cancel {cancelled.status_code}, sheets {codes}, "
            f"cancelled phone on a sheet: {any(phone in r.text for r in reads)}",
        )

    def refused_replan(self, name: str, code: str, **config: int) -> Fault:
        self.change_input()
        before = self.snapshot()
        self.restart(**config)
        job = self.replan()
        alive = self.client.get("/health").status_code == 200 and all(r.status_code == 200 for r in self.sheets_ok())
        survived = job["status"] == "failed" and job["detail"].startswith(code) and alive
        self.restart()
        return Fault(name, survived, self.snapshot() == before, f"job {job['status']}: {job['detail'][:70]}")

    def solving_job(self) -> tuple[str, list[int]]:
        """Ask for a re-plan and return once its solver runs: the job id and the re-plan tree's pids."""
        self.change_input()
        asked = self.ask_replan()
        asked.raise_for_status()
        job_id = asked.json()["job_id"]
        assert self.server is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tree = [pid for pid, _ in descendants(self.server.process.pid) if _cmdline(pid).find("spawn_main") >= 0]
            solvers = [pid for pid in tree if _parent(pid) in tree]
            if solvers:
                return job_id, tree
            time.sleep(0.2)
        raise SystemExit("faults: the re-plan never reached its solve")

    def kill_replan(self) -> Fault:
        before = self.snapshot()
        job_id, tree = self.solving_job()
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        job = self.wait_job(job_id, timeout_s=30)
        freed_after = time.monotonic() - killed_at
        unchanged = self.snapshot() == before
        again = self.ask_replan()
        survived = job["status"] == "failed" and again.status_code == 202
        if again.status_code == 202:
            self.wait_job(again.json()["job_id"])
        return Fault(
            "kill -9 of the re-plan tree",
            survived,
            unchanged,
            f"job {job['status']} {freed_after:.1f} s after the kill; a new re-plan answered {again.status_code}",
        )

    def disk_full(self, mount: Path | None) -> Fault:
        if mount is None:
            return Fault("disk full during a solve", False, False, "skipped: making a full disk needs root (tmpfs)")
        before = self.snapshot()
        job_id, _tree = self.solving_job()
        filler = mount / "filler"
        with open(filler, "wb") as file, contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        ready_full = self.client.get("/ready").status_code
        job = self.wait_job(job_id, timeout_s=90)
        filler.unlink()
        time.sleep(0.5)
        ready_after = self.client.get("/ready").status_code
        job_after = self.client.get(f"/plans/jobs/{job_id}", headers=self.dispatcher).json()
        unchanged = self.snapshot() == before
        again = self.ask_replan()
        if again.status_code == 202:
            self.wait_job(again.json()["job_id"])
        survived = (
            ready_full == 503 and job_after["status"] == "failed" and ready_after == 200 and again.status_code == 202
        )
        return Fault(
            "disk full during a solve",
            survived,
            unchanged,
            f"/ready {ready_full} while full, job {job['status']} ({job['detail'][:40]}), "
            f"/ready {ready_after} once freed, a new re-plan {again.status_code}",
        )


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def _parent(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return 0


def small_disk(folder: Path) -> Path | None:
    """A 48 MB tmpfs under ``folder`` (root only), or None."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    mount = folder / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True)
    return mount if made.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medics", type=int, default=6)
    parser.add_argument("--per-medic", type=int, default=6)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="dripline-faults-"))
    mount = small_disk(folder)
    db_path = (mount or folder) / "faults.db"
    bench = Bench(folder, db_path)
    try:
        bench.booking_id = seed_day(bench.url, bench.day, args.medics, args.per_medic, 0.0, random.Random(11))
        accounts = seed_accounts(bench.url)
        bench.medic = accounts[0]
        bench.restart()
        first_plan = bench.replan()
        if first_plan["status"] != "published":
            raise SystemExit(f"faults: the first plan did not publish: {first_plan}")
        sheet = bench.client.get(f"/me/route-sheets/{bench.day}", headers=bench.medic_headers)
        if sheet.status_code != 200 or len(sheet.json()["stops"]) < 2:
            for medic_id, username in accounts:  # a medic with at least two stops
                bench.medic = (medic_id, username)
                bench.medic_headers = bench.token(username)
                probe = bench.client.get(f"/me/route-sheets/{bench.day}", headers=bench.medic_headers)
                if probe.status_code == 200 and len(probe.json()["stops"]) >= 2:
                    break
        print(f"faults: {args.medics * args.per_medic} bookings on {bench.day}, version {first_plan['plan_version']} "
              f"published; database on {'a 48 MB tmpfs' if mount else 'local disk'}", flush=True)  # fmt: skip
        faults = [bench.edit_after_publish()]
        print(faults[-1].line(), flush=True)
        bench.replan()  # the edits above, planned: the next faults start from a clean published day
        for fault in (
            lambda: bench.refused_replan("day over the booking cap", "day_too_large", cap=5),
            lambda: bench.refused_replan("solver over its memory limit", "solver_out_of_memory", memory=256),
            bench.kill_replan,
            lambda: bench.disk_full(mount),
        ):
            faults.append(fault())
            print(faults[-1].line(), flush=True)
        return 0 if all(f.survived and (f.unchanged or f.name == "edit after publish") for f in faults) else 1
    finally:
        bench.stop()
        if mount is not None:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

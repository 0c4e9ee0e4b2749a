"""Re-plan jobs in their own process: a process that dies leaves the job failed and the day free."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.planning.jobs import THREAD_PREFIX, enqueue_plan_job, start_plan_job
from dispatch.store.db import session_scope
from dispatch.store.tables import PlanJob, PlanJobStatus
from tests.api_support import API_FAST
from tests.factory import DAY


def test_job_whose_process_is_killed_ends_failed_and_frees_the_day(engine: Engine) -> None:
    """SIGKILL the job's process as soon as it starts: the watcher records the job failed with the exit code."""
    with session_scope(engine) as session:
        job_id = enqueue_plan_job(session, day=DAY, actor_user_id=None, stale_after=timedelta(hours=1)).id
    watcher = start_plan_job(engine, job_id=job_id, settings=API_FAST)
    (process,) = [p for p in multiprocessing.active_children() if p.name.startswith(THREAD_PREFIX)]
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    watcher.join(60)
    assert not watcher.is_alive()
    with Session(engine) as session:
        job = session.get(PlanJob, job_id)
        assert job is not None
        assert job.status is PlanJobStatus.FAILED and job.live_date is None and job.finished_at is not None
        assert job.detail == "internal_error: the re-plan process ended with exit code -9"
    with session_scope(engine) as session:  # the day takes a new job at once, not after the stale time
        assert enqueue_plan_job(session, day=DAY, actor_user_id=None, stale_after=timedelta(hours=1)).id != job_id

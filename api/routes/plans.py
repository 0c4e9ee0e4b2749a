"""Plans (dispatchers and admins): ask for a re-plan, follow it, and read the versions.

``POST /plans/{day}`` queues a job and answers 202 at once; the re-plan runs in a thread of its
own (the solve in a child process with a hard timeout), and any API worker answers the poll at
``GET /plans/jobs/{job_id}``, since the job lives in the database. A second request while one is
queued or running, or while another process holds the day's lease, is a 409.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.deps import DispatcherUser, EngineDep, PolicyDep, RequireDispatcher, SessionDep, SettingsDep, audit
from api.models import (
    BreakPublic,
    MoveCheckPublic,
    MoveCreate,
    MoveDonePublic,
    PlanChangePublic,
    PlanIdleMedicPublic,
    PlanJobPublic,
    PlanPublic,
    PlanQueuedPublic,
    PlanRoutePublic,
    PlanStopPublic,
    PlanUnassignedPublic,
    PlanVersionPublic,
    RouteKpisPublic,
)
from dispatch.planning.jobs import (
    enqueue_plan_job,
    get_plan_job,
    job_stale_after,
    plan_versions,
    published_plan_view,
    start_plan_job,
)
from dispatch.planning.moves import Move, check_move, commit_move
from dispatch.records.validation import Conflict, Problems, check_service_day
from dispatch.store.tables import PlanJob, parse_utc

router = APIRouter(prefix="/plans", tags=["plans"], dependencies=[RequireDispatcher])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the job_id POST /plans/{day} answered")]


def job_public(job: PlanJob) -> PlanJobPublic:
    return PlanJobPublic(
        job_id=job.id,
        service_date=job.service_date,
        status=job.status,
        plan_version=job.plan_version,
        detail=job.detail,
    )


@router.post(
    "/{day}",
    response_model=PlanQueuedPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "a re-plan of this day is already queued or running"}},
)
def request_plan(
    day: date,
    request: Request,
    response: Response,
    user: DispatcherUser,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    policy: PolicyDep,
) -> PlanQueuedPublic:
    """Re-plan ``day`` (today or later) outside the request; poll ``status_url`` for the outcome."""
    problems = Problems(part="path")
    check_service_day(problems, ("day",), day, policy)
    problems.raise_any()
    try:
        job = enqueue_plan_job(session, day=day, actor_user_id=user.id, stale_after=job_stale_after(settings))
    except Conflict:
        session.rollback()
        audit(session, user, action="write", resource="plan_job", resource_ids=[f"date:{day}"], outcome="conflict")
        raise
    audit(
        session,
        user,
        action="write",
        resource="plan_job",
        resource_ids=[f"job:{job.id}", f"date:{day}"],
        outcome="queued",
    )
    start_plan_job(engine, job_id=job.id, settings=settings, solver=request.app.state.plan_solver)
    status_url = str(request.app.url_path_for("read_plan_job", job_id=job.id))
    response.headers["Location"] = status_url
    return PlanQueuedPublic(job_id=job.id, status_url=status_url)


@router.get("/jobs/{job_id}", response_model=PlanJobPublic, responses={404: {"description": "no such job"}})
def read_plan_job(job_id: JobId, session: SessionDep) -> PlanJobPublic:
    """A re-plan's progress: queued, running, then published, unchanged, failed or busy."""
    return job_public(get_plan_job(session, job_id=job_id))


@router.get("/{day}/versions", response_model=list[PlanVersionPublic])
def read_plan_versions(day: date, session: SessionDep, settings: SettingsDep) -> list[PlanVersionPublic]:
    """Every version of the day's plan, oldest first."""
    zone = settings.zone
    return [
        PlanVersionPublic(
            version=plan.version,
            status=plan.status,
            created_at=plan.created_at.astimezone(zone),
            published_at=plan.published_at.astimezone(zone) if plan.published_at else None,
            kpis=dict(plan.kpis),
        )
        for plan in plan_versions(session, day=day)
    ]


@router.get("/{day}", response_model=PlanPublic, responses={404: {"description": "no published plan"}})
def read_plan(day: date, user: DispatcherUser, session: SessionDep, settings: SettingsDep) -> PlanPublic:
    """The published plan: each medic's route with its figures, breaks and stops in order (each
    naming its patients), every booking part left unassigned, and each medic on shift without a
    route, with the reason. The patient ids it shows are audited."""
    view = published_plan_view(session, day=day)
    zone = settings.zone

    def local(moment: datetime) -> datetime:
        return moment.astimezone(zone)

    public = PlanPublic(
        version=view.plan.version,
        kpis=dict(view.plan.kpis),
        solver=dict(view.plan.solver),
        routes=[
            PlanRoutePublic(
                medic_id=route.medic_id,
                departure=local(route.departure),
                arrival_home=local(route.arrival_home),
                kpis=RouteKpisPublic(**route.kpis),
                breaks=[BreakPublic(start=local(parse_utc(a)), end=local(parse_utc(b))) for a, b in route.breaks],
                stock=dict(route.stock),
                stops=[
                    PlanStopPublic(
                        booking_id=stop.booking_id,
                        part=stop.part,
                        patient_ids=list(stop.patient_ids),
                        arrival=local(stop.arrival),
                        start=local(stop.start),
                        end=local(stop.end),
                    )
                    for stop in view.stops.get(route.medic_id, [])
                ],
            )
            for route in view.routes
        ],
        unassigned=[
            PlanUnassignedPublic(
                booking_id=u.booking_id, part=u.part, patient_ids=list(u.patient_ids), reason=u.reason, detail=u.detail
            )
            for u in view.unassigned
        ],
        idle_medics=[PlanIdleMedicPublic(medic_id=i.medic_id, reason=i.reason, detail=i.detail) for i in view.idle],
        changed_since_publish=[PlanChangePublic(booking_id=b, change=what) for b, what in view.changes],
        needs_replan=bool(view.changes),
    )
    shown = sorted(
        {p for stops in view.stops.values() for stop in stops for p in stop.patient_ids}
        | {p for u in view.unassigned for p in u.patient_ids}
    )
    audit(
        session,
        user,
        action="read",
        resource="plan",
        resource_ids=[view.plan.id or 0, *(f"patient:{p}" for p in shown)],
    )
    return public


def _move(body: MoveCreate) -> Move:
    return Move(booking_id=body.booking_id, medic_id=body.medic_id, position=body.position, part=body.part)


@router.post(
    "/{day}/moves/check",
    response_model=MoveCheckPublic,
    responses={404: {"description": "no published plan"}, 409: {"description": "the day changed since publish"}},
)
def check_plan_move(
    day: date, body: MoveCreate, user: DispatcherUser, session: SessionDep, settings: SettingsDep
) -> MoveCheckPublic:
    """What moving a stop would do, checked by the independent checker: the rules it breaks and the change
    in every figure. Nothing is written."""
    checked = check_move(session, day, settings, _move(body))
    audit(session, user, action="read", resource="plan_move", resource_ids=[f"date:{day}", body.booking_id])
    return MoveCheckPublic(
        version=checked.version,
        allowed=checked.allowed,
        violations=checked.violations,
        before=checked.before,
        after=checked.after,
        delta=checked.delta,
    )


@router.post(
    "/{day}/moves",
    response_model=MoveDonePublic,
    responses={
        404: {"description": "no published plan"},
        409: {"description": "the move breaks a rule (named), the day changed, or a re-plan is running"},
    },
)
def make_plan_move(
    day: date, body: MoveCreate, user: DispatcherUser, engine: EngineDep, settings: SettingsDep
) -> MoveDonePublic:
    """Move a stop and publish the plan as a new version, through the same atomic publish as a re-plan
    (audited); a move that breaks a rule is refused with the rule's words."""
    assert user.id is not None
    outcome = commit_move(engine, day, settings, _move(body), actor_user_id=user.id)
    assert outcome.version is not None
    return MoveDonePublic(version=outcome.version)

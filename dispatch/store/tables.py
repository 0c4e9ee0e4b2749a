"""Tables of the dispatch database (SQLModel; SQLite or PostgreSQL).

Patients, their screening answers, addresses and access notes are protected
health information: never log them, never put them in an error message.
Times are stored in UTC (:class:`UTCDateTime`) and come back timezone-aware on
both databases.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, AutoString, Column, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC. SQLite keeps no offset, so the value is
    normalised to UTC on the way in and marked UTC on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a datetime must carry a time zone before it is stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def json_column(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_utc(text: str) -> datetime:
    """A time stored as ISO text in UTC (a plan route's breaks), back as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Role(enum.StrEnum):
    RN = "RN"
    PARAMEDIC = "paramedic"
    NP = "NP"


class PlaceKind(enum.StrEnum):
    HOME = "home"
    OFFICE = "office"
    HOTEL = "hotel"


class GeocodeStatus(enum.StrEnum):
    OK = "ok"  # coordinates from the geocoder, inside the service area
    GIVEN = "given"  # coordinates supplied with the booking
    PENDING = "pending"
    FAILED = "failed"  # flagged: needs a location from the dispatcher


class BookingStatus(enum.StrEnum):
    REQUESTED = "requested"
    NEEDS_CLEARANCE = "needs_clearance"
    CLEARED = "cleared"
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class PlanJobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PUBLISHED = "published"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    BUSY = "busy"


class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    full_name: str
    display_name: str  # what the medic's sheet shows, e.g. "Dana R."
    phone: str
    date_of_birth: date
    #: screening answers, e.g. {"kidney_disease": false, "arrhythmia": false, "interacting_medication": false}
    screening: dict[str, bool] = json_column(dict)


class Place(SQLModel, table=True):
    """Where a visit happens (or a medic lives)."""

    id: int | None = Field(default=None, primary_key=True)
    address: str
    kind: PlaceKind = PlaceKind.HOME
    lat: float | None = None
    lon: float | None = None
    access_notes: str = ""
    geocode_status: GeocodeStatus = GeocodeStatus.PENDING
    #: a code, never the address: timeout, not_found, outside_area, error
    geocode_problem: str | None = None


class Service(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    infusion_minutes: int
    roles: list[str] = json_column(list)
    #: supplies one patient uses, e.g. {"saline_bag": 1, "nad_vial": 1}
    supplies: dict[str, int] = json_column(dict)
    #: screening answers that hold the booking for clearance
    clearance_flags: list[str] = json_column(list)
    #: a drip that needs a pump (a shot does not)
    uses_pump: bool = True


class Medic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: Role
    home_place_id: int = Field(foreign_key="place.id")
    stock: dict[str, int] = json_column(dict)
    pumps: int = 4
    active: bool = True
    #: where an imported medic came from (a file's source name) and its id there; unique together
    source: str | None = None
    external_ref: str | None = None

    __table_args__ = (sa.UniqueConstraint("source", "external_ref", name="uq_medic_source_ref"),)


class Credential(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    medic_id: int = Field(foreign_key="medic.id", index=True)
    kind: str  # "licence", "iv_certification", ...
    expires_on: date


class ShiftRow(SQLModel, table=True):
    __tablename__ = "shift"
    id: int | None = Field(default=None, primary_key=True)
    medic_id: int = Field(foreign_key="medic.id", index=True)
    service_date: date = Field(index=True)
    starts_at: datetime = utc_column()
    ends_at: datetime = utc_column()
    #: latest return home; overtime runs from ends_at up to here
    hard_end_at: datetime | None = utc_column(nullable=True)


class Booking(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    place_id: int = Field(foreign_key="place.id")
    service_date: date = Field(index=True)
    window_start: datetime = utc_column()
    window_end: datetime = utc_column()
    #: a second window the patient also accepts ("this morning, or else after five"); both or neither
    alt_window_start: datetime | None = utc_column(nullable=True)
    alt_window_end: datetime | None = utc_column(nullable=True)
    preferred_medic_id: int | None = Field(default=None, foreign_key="medic.id")
    #: a dispatcher's pin: every re-plan gives the booking to this medic (at ``pinned_start``, if set),
    #: or reports why it could not
    pinned_medic_id: int | None = Field(default=None, foreign_key="medic.id")
    pinned_start: datetime | None = utc_column(nullable=True)
    pinned_at: datetime | None = utc_column(nullable=True)
    status: BookingStatus = BookingStatus.REQUESTED
    priority: int = 1
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))
    #: when the medical director cleared it (kept when a later plan drops it again)
    cleared_at: datetime | None = utc_column(nullable=True)
    #: the published plan version it is on (status planned), or was last dropped from
    plan_version: int | None = None
    #: why the last published plan left it out: a reason code and its detail, never patient data
    status_reason: str | None = None
    #: where an imported booking came from (a file's source name) and its id there; unique together
    source: str | None = None
    external_ref: str | None = None

    __table_args__ = (sa.UniqueConstraint("source", "external_ref", name="uq_booking_source_ref"),)


class BookingPatient(SQLModel, table=True):
    """One patient of a booking, with the service they get."""

    __tablename__ = "booking_patient"
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    service_id: int = Field(foreign_key="service.id")
    first_visit: bool = False


class Plan(SQLModel, table=True):
    """One version of a day's plan. Published versions are never edited."""

    id: int | None = Field(default=None, primary_key=True)
    service_date: date = Field(index=True)
    version: int
    status: PlanStatus
    input_hash: str = Field(index=True)
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))
    published_at: datetime | None = utc_column(nullable=True)
    #: solver figures: objective, runtime_s, strategy, searches
    solver: dict[str, Any] = json_column(dict)
    kpis: dict[str, int] = json_column(dict)
    #: why a failed version failed: a code and ids only
    error: str | None = None
    content_hash: str | None = None

    __table_args__ = (sa.UniqueConstraint("service_date", "version", name="uq_plan_day_version"),)


class PlanRoute(SQLModel, table=True):
    __tablename__ = "plan_route"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    medic_id: int = Field(foreign_key="medic.id")
    departure: datetime = utc_column()
    arrival_home: datetime = utc_column()
    breaks: list[list[str]] = json_column(list)  # [[start ISO, end ISO], ...]
    kpis: dict[str, int] = json_column(dict)
    stock: dict[str, int] = json_column(dict)  # what to load in the car


class PlanStop(SQLModel, table=True):
    __tablename__ = "plan_stop"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    medic_id: int = Field(foreign_key="medic.id", index=True)
    sequence: int
    booking_id: int = Field(foreign_key="booking.id")
    #: which part of a split group booking ("1" unless the group was split)
    part: int = 1
    patient_ids: list[int] = json_column(list)
    arrival: datetime = utc_column()
    start: datetime = utc_column()
    end: datetime = utc_column()
    wait_s: int = 0
    travel_s: int = 0
    distance_m: int = 0


class PlanUnassigned(SQLModel, table=True):
    __tablename__ = "plan_unassigned"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    booking_id: int = Field(foreign_key="booking.id")
    part: int = 1
    #: the part's patients (empty for a booking held back whole)
    patient_ids: list[int] = json_column(list)
    reason: str
    detail: str


class PlanIdleMedic(SQLModel, table=True):
    """A medic on shift without a route in a plan, and why: they may serve nothing that day
    (credentials, no located home), or nothing left out fits their day."""

    __tablename__ = "plan_idle_medic"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    medic_id: int = Field(foreign_key="medic.id")
    reason: str
    detail: str


class RouteSheetRow(SQLModel, table=True):
    """One medic's route sheet of a published plan, as it is served: assembled once at publish, and again
    when an edit touches one of its stops (see :mod:`dispatch.planning.sheets`)."""

    __tablename__ = "route_sheet"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    medic_id: int = Field(foreign_key="medic.id")
    #: 1 at publish, one more each time an edit changes what the sheet shows
    revision: int = 1
    #: sha256 of the document: what the sheet's ETag is made of
    digest: str
    document: dict[str, Any] = json_column(dict)
    #: the bookings on it that changed since publish, and how: [[booking_id, "cancelled"], ...]
    changed: list[list[Any]] = json_column(list)
    updated_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))

    __table_args__ = (sa.UniqueConstraint("plan_id", "medic_id", name="uq_route_sheet_plan_medic"),)


class PlanLease(SQLModel, table=True):
    """Who is re-planning a day, until when. A lease past its expiry belongs to
    a process that died and may be taken over."""

    __tablename__ = "plan_lease"
    service_date: date = Field(primary_key=True)
    holder: str
    expires_at: datetime = utc_column()


class PlanJob(SQLModel, table=True):
    """A re-plan asked for through the API, run outside the request; any API worker answers its poll."""

    __tablename__ = "plan_job"
    #: random, so job ids cannot be guessed from one another
    id: str = Field(primary_key=True, max_length=32)
    service_date: date = Field(index=True)
    status: PlanJobStatus = PlanJobStatus.QUEUED
    #: the service day while queued or running, NULL once finished: unique, so one live job per day
    live_date: date | None = Field(default=None, unique=True)
    requested_by: int | None = None
    plan_id: int | None = None
    plan_version: int | None = None
    #: an outcome code and ids only
    detail: str = ""
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = utc_column(nullable=True)
    finished_at: datetime | None = utc_column(nullable=True)
    #: the process running it, "host:pid:start-ticks": a job whose process is gone is failed at the next look
    worker: str | None = None


class ReplanSlot(SQLModel, table=True):
    """One of the ``[planning] max_concurrent_replans`` places a re-plan solves in; a re-plan waits for a free
    one, so at most that many solve at once across every process on the database."""

    __tablename__ = "replan_slot"
    slot: int = Field(primary_key=True)
    holder: str
    expires_at: datetime = utc_column()


class ReadyProbe(SQLModel, table=True):
    """The one row ``/ready`` writes, to prove the database takes writes (a full disk, a read-only file)."""

    __tablename__ = "ready_probe"
    id: int = Field(default=1, primary_key=True)
    at: datetime = utc_column()
    writes: int = 0


class GeocodeCache(SQLModel, table=True):
    __tablename__ = "geocode_cache"
    #: sha256 of provider and normalised query, so the table holds no address
    key: str = Field(primary_key=True)
    provider: str
    lat: float | None = None
    lon: float | None = None
    problem: str | None = None
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    """A claimed key and, once the request succeeded, its answer."""

    __tablename__ = "idempotency_record"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    key_hash: str
    request_hash: str
    status_code: int | None = None
    #: the answer's content type and location, as [[name, value], ...]
    headers: list[list[str]] = json_column(list)
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = utc_column()

    __table_args__ = (UniqueConstraint("user_id", "key_hash", name="uq_idempotency_user_key"),)


# --------------------------------------------------------------------- accounts, feeds and the audit trail


class AccountRole(enum.StrEnum):
    DISPATCHER = "dispatcher"
    MEDIC = "medic"
    ADMIN = "admin"


class User(SQLModel, table=True):
    """A person who signs in. A medic's account points at their Medic row."""

    __tablename__ = "app_user"  # "user" is a reserved word in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str = Field(repr=False)
    role: AccountRole
    medic_id: int | None = Field(default=None, foreign_key="medic.id", index=True, unique=True)  # one account each
    active: bool = True
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))


class TokenKind(enum.StrEnum):
    """Where a token may be presented: a Bearer header (any request), or the phone's sign-in cookie (reads only)."""

    BEARER = "bearer"
    SESSION = "session"


class ApiToken(SQLModel, table=True):
    """An issued token, by digest. ``revoked_at`` set or ``expires_at`` past: no longer valid.

    ``kind`` says where it may be presented: a session token (the sign-in page's cookie, which lives
    a shift) is refused in a Bearer header, so it can never make a write.
    """

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(unique=True, index=True, repr=False)
    created_at: datetime = Field(default_factory=now_utc, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = utc_column()
    revoked_at: datetime | None = utc_column(nullable=True)
    kind: TokenKind = Field(
        default=TokenKind.BEARER, sa_column=Column(AutoString(), nullable=False, server_default="bearer")
    )


class CalendarFeed(SQLModel, table=True):
    """An issued feed address, by digest; ``revoked_at`` set: no longer valid."""

    __tablename__ = "calendar_feed"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(unique=True, index=True, repr=False)
    created_at: datetime = utc_column()
    revoked_at: datetime | None = utc_column(nullable=True)


GENESIS_HASH = "0" * 64
HEAD_ID = 1

ResourceId = int | str


class AuditEvent(SQLModel, table=True):
    """One audited event. Never updated, never deleted."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column()
    #: the account that acted; None for the system (scheduler, CLI) or an unauthenticated caller
    actor_user_id: int | None = Field(default=None, index=True)
    action: str = Field(index=True)
    resource: str
    #: ids only (ints, or short strings such as "patient:12"), never names, phones or addresses
    resource_ids: list[ResourceId] = json_column(list)
    outcome: str
    prev_hash: str
    row_hash: str = Field(unique=True)


class AuditHead(SQLModel, table=True):
    """The newest row's hash (one row, id 1): appenders lock it, and a deleted tail shows against it."""

    __tablename__ = "audit_head"
    id: int = Field(default=HEAD_ID, primary_key=True)
    last_hash: str = GENESIS_HASH
    events: int = 0
    #: HMAC of (events, last_hash): nobody without the key can move the head to a shorter chain
    mac: str | None = None
    #: rows written before the trail was keyed (unkeyed sha256), and the hash the last of them ends on
    legacy_events: int = 0
    legacy_last_hash: str = GENESIS_HASH

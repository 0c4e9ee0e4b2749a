"""Request and response models of the API.

Responses are Public models: explicit allow-lists of fields, so a column added to a
table never reaches a client by accident. Inputs forbid unknown fields and never carry
server-owned fields (ids, status, plan version).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from dispatch.access.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, AccountRole
from dispatch.records.fields import PHONE_PATTERN, clean_text, phone_number, sane_date, sane_moment
from dispatch.store.tables import BookingStatus, GeocodeStatus, PlaceKind, PlanJobStatus, PlanStatus, Role


class InputModel(BaseModel):
    """A request body: unknown fields are a 422."""

    model_config = ConfigDict(extra="forbid")


class PublicModel(BaseModel):
    """A response body: exactly the declared fields."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------- auth and accounts


class TokenRequest(InputModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class TokenPublic(PublicModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class UserCreate(InputModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    role: AccountRole
    medic_id: int | None = Field(default=None, ge=1)


class UserUpdate(InputModel):
    """``active: false`` disables the account and ends its tokens, sessions and feeds at once; a field left
    out is left as it is."""

    active: bool | None = None


class UserPublic(PublicModel):
    id: int
    username: str
    role: AccountRole
    medic_id: int | None
    active: bool


# --------------------------------------------------------------------- health


class HealthPublic(PublicModel):
    status: str


# --------------------------------------------------------------------- the medic's route sheet


class SheetPatientPublic(PublicModel):
    display_name: str
    phone: str
    service: str


class SheetStopPublic(PublicModel):
    sequence: int
    booking_id: int
    part: int
    #: times are in the company's time zone (America/Denver), with their offset
    arrival: datetime
    start: datetime
    end: datetime
    window_start: datetime
    window_end: datetime
    place_kind: str
    address: str
    access_notes: str
    lat: float
    lon: float
    navigate_url: str
    patients: list[SheetPatientPublic]
    #: the booking changed after the plan was published: what is shown is true now, the times may not hold
    changed: bool = False


class BreakPublic(PublicModel):
    start: datetime
    end: datetime


class CalendarFeedPublic(PublicModel):
    """A new calendar-feed address: shown once; subscribe to it in the phone's calendar app."""

    url: str
    days_before: int
    days_after: int


class RouteSheetPublic(PublicModel):
    date: date
    plan_version: int
    timezone: str
    medic_name: str
    departure: datetime
    arrival_home: datetime
    #: minutes of driving, and past the shift's end
    driving_minutes: int
    overtime_minutes: int
    breaks: list[BreakPublic]
    #: what to load in the car: supply code -> count
    stock: dict[str, int]
    stops: list[SheetStopPublic]
    #: what changed since the plan was published (a stop cancelled, a booking edited), in plain words
    changes: list[str] = []
    #: 1 as published, one more for each edit that changed the sheet since
    revision: int = 1


# --------------------------------------------------------------------- shared field types
#
# Every bound below keeps a value the schema admits from failing further down: ids fit a 32-bit
# integer column, text holds no NUL (PostgreSQL refuses it) nor lone surrogates (not UTF-8), numbers
# are finite, and datetimes carry a time zone and stay in years a conversion to UTC cannot overflow.

INT32_MAX = 2_147_483_647


def absent(**constraints: Any) -> Any:
    """The default of an Update model's field: left out of the body means unchanged.

    Pydantic never validates a default, so a ``null`` sent in a body is still a 422 (the field's
    type has no None); ``Field`` is typed ``Any``, which lets the default differ from that type.
    """
    return Field(default=None, **constraints)


Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_text)
]
Address = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(clean_text)
]
Notes = Annotated[str, StringConstraints(max_length=1000), AfterValidator(clean_text)]
#: a machine name: a service code, a supply, a screening question, a credential kind
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
#: checked by one rule (dispatch.records.fields.phone_number), whose reason a person can act on; the schema
#: still publishes the shape, for clients that check before they send
Phone = Annotated[str, AfterValidator(phone_number), Field(json_schema_extra={"pattern": PHONE_PATTERN})]
Day = Annotated[date, AfterValidator(sane_date)]
#: an ISO 8601 time with its offset (2026-12-02T09:00:00-07:00); a time without one is a 422
Moment = Annotated[AwareDatetime, AfterValidator(sane_moment)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10_000)]
Stock = Annotated[dict[Code, Count], Field(max_length=50)]
Screening = Annotated[dict[Code, bool], Field(max_length=50)]
Priority = Annotated[int, Field(ge=1, le=10)]
Pumps = Annotated[int, Field(ge=0, le=20)]


def _after(start_field: str) -> Any:
    """A field validator: this field's time is after ``start_field``'s (when that one is valid)."""

    def check(value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get(start_field)
        if start is not None and value <= start:
            raise ValueError(f"must be after {start_field}")
        return value

    return check


# --------------------------------------------------------------------- places


class PlaceCreate(InputModel):
    """A place; without lat and lon the address is geocoded, and a failure leaves the place flagged."""

    address: Address
    kind: PlaceKind = PlaceKind.HOME
    lat: Lat | None = None
    lon: Lon | None = None
    access_notes: Notes = ""


class PlaceUpdate(InputModel):
    """New lat and lon fix a flagged place; a new address alone is geocoded again."""

    address: Address = absent()
    kind: PlaceKind = absent()
    lat: Lat = absent()
    lon: Lon = absent()
    access_notes: Notes = absent()


class PlacePublic(PublicModel):
    id: int
    address: str
    kind: PlaceKind
    lat: float | None
    lon: float | None
    access_notes: str
    #: ok, given, pending, or failed (flagged: needs a location from the dispatcher)
    geocode_status: GeocodeStatus
    #: why a lookup failed: timeout, unavailable, not_found or outside_area
    geocode_problem: str | None


# --------------------------------------------------------------------- medics


class CredentialIn(InputModel):
    kind: Code
    expires_on: Day


class CredentialPublic(PublicModel):
    kind: str
    expires_on: date


class CredentialKindPublic(PublicModel):
    """A credential kind the company records, and the roles that need it unexpired to be planned."""

    kind: str
    required_for: list[Role]


class HomeIn(InputModel):
    """A medic's home, where each route starts and ends."""

    address: Address
    lat: Lat | None = None
    lon: Lon | None = None


class MedicCreate(InputModel):
    name: Name
    role: Role
    home: HomeIn
    #: what the car carries: supply code -> count
    stock: Stock = Field(default_factory=dict)
    pumps: Pumps = 4
    credentials: list[CredentialIn] = Field(default_factory=list, max_length=20)


class MedicUpdate(InputModel):
    """The fields to change; ``credentials`` replaces the list, ``home`` moves the home."""

    name: Name = absent()
    role: Role = absent()
    home: HomeIn = absent()
    stock: Stock = absent()
    pumps: Pumps = absent()
    credentials: list[CredentialIn] = absent(max_length=20)
    active: bool = absent()


class MedicPublic(PublicModel):
    id: int
    name: str
    role: Role
    home_place_id: int
    stock: dict[str, int]
    pumps: int
    active: bool
    credentials: list[CredentialPublic]


# --------------------------------------------------------------------- shifts


class ShiftCreate(InputModel):
    medic_id: Id
    service_date: Day
    starts_at: Moment
    ends_at: Moment
    #: the latest return home (overtime runs from ends_at up to here); default: an hour after ends_at
    hard_end_at: Moment | None = None

    _ends_after_start = field_validator("ends_at")(_after("starts_at"))


class ShiftUpdate(InputModel):
    service_date: Day = absent()
    starts_at: Moment = absent()
    ends_at: Moment = absent()
    hard_end_at: Moment | None = None

    _ends_after_start = field_validator("ends_at")(_after("starts_at"))


class ShiftPublic(PublicModel):
    id: int
    medic_id: int
    service_date: date
    starts_at: datetime
    ends_at: datetime
    hard_end_at: datetime | None


# --------------------------------------------------------------------- the service catalogue


class ServiceCreate(InputModel):
    code: Code
    name: Name
    infusion_minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    #: the roles that may give it
    roles: list[Role] = Field(min_length=1, max_length=3)
    #: what one patient uses: supply code -> count
    supplies: Stock = Field(default_factory=dict)
    #: screening answers that hold a booking for the medical director's clearance
    clearance_flags: list[Code] = Field(default_factory=list, max_length=50)
    uses_pump: bool = True


class ServiceUpdate(InputModel):
    """The fields to change; the code stays (bookings name it)."""

    name: Name = absent()
    infusion_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = absent()
    roles: list[Role] = absent(min_length=1, max_length=3)
    supplies: Stock = absent()
    clearance_flags: list[Code] = absent(max_length=50)
    uses_pump: bool = absent()


class ServicePublic(PublicModel):
    id: int
    code: str
    name: str
    infusion_minutes: int
    roles: list[str]
    supplies: dict[str, int]
    clearance_flags: list[str]
    uses_pump: bool


# --------------------------------------------------------------------- patients


class PatientCreate(InputModel):
    full_name: Name
    #: what the medic's sheet shows; default: first name and last initial ("Dana R.")
    display_name: Name | None = None
    phone: Phone
    date_of_birth: Day
    #: screening answers, e.g. {"kidney_disease": false}
    screening: Screening = Field(default_factory=dict)


class PatientUpdate(InputModel):
    full_name: Name = absent()
    display_name: Name = absent()
    phone: Phone = absent()
    date_of_birth: Day = absent()
    screening: Screening = absent()


class PatientPublic(PublicModel):
    id: int
    full_name: str
    display_name: str
    phone: str
    date_of_birth: date
    screening: dict[str, bool]


# --------------------------------------------------------------------- bookings


class BookingPatientIn(InputModel):
    """One patient of a booking: ``patient_id`` of a known patient, or a new patient's fields."""

    patient_id: Id | None = None
    full_name: Name | None = None
    display_name: Name | None = None
    phone: Phone | None = None
    date_of_birth: Day | None = None
    screening: Screening | None = None
    #: a service code from the catalogue
    service: Code
    first_visit: bool = False


class BookingCreate(InputModel):
    """A visit: a new ``place`` or a known ``place_id``, and one to twenty patients."""

    service_date: Day
    window_start: Moment
    window_end: Moment
    #: a second window the patient also accepts, later that day (both or neither)
    alt_window_start: Moment | None = None
    alt_window_end: Moment | None = None
    place: PlaceCreate | None = None
    place_id: Id | None = None
    patients: list[BookingPatientIn] = Field(min_length=1, max_length=20)
    preferred_medic_id: Id | None = None
    priority: Priority = 1

    _ends_after_start = field_validator("window_end")(_after("window_start"))
    _alt_ends_after_start = field_validator("alt_window_end")(_after("alt_window_start"))


class BookingUpdate(InputModel):
    """The fields to change; ``patients`` replaces the list (and sets the status again)."""

    service_date: Day = absent()
    window_start: Moment = absent()
    window_end: Moment = absent()
    #: null in both removes the second window
    alt_window_start: Moment | None = None
    alt_window_end: Moment | None = None
    place: PlaceCreate = absent()
    place_id: Id = absent()
    patients: list[BookingPatientIn] = absent(min_length=1, max_length=20)
    preferred_medic_id: Id | None = None
    priority: Priority = absent()

    _ends_after_start = field_validator("window_end")(_after("window_start"))
    _alt_ends_after_start = field_validator("alt_window_end")(_after("alt_window_start"))


class BookingPatientPublic(PublicModel):
    patient_id: int
    service: str
    first_visit: bool


class BookingPublic(PublicModel):
    id: int
    service_date: date
    window_start: datetime
    window_end: datetime
    alt_window_start: datetime | None
    alt_window_end: datetime | None
    place_id: int
    #: requested, needs_clearance, cleared, planned, done or cancelled
    status: BookingStatus
    #: the published plan version it is on (planned), or that last left it out
    plan_version: int | None
    #: why the last published plan left it out: a reason code and its detail (no patient data)
    status_reason: str | None
    priority: int
    preferred_medic_id: int | None
    #: a dispatcher's pin: every re-plan gives the booking to this medic (at ``pinned_start``, if set)
    pinned_medic_id: int | None = None
    pinned_start: datetime | None = None
    #: where an imported booking came from, and its id there
    source: str | None
    external_ref: str | None
    patients: list[BookingPatientPublic]


class PinCreate(InputModel):
    """Pin a booking to a medic, optionally at a start time inside its window."""

    medic_id: Id
    start: Moment | None = None


# --------------------------------------------------------------------- plans


class PlanQueuedPublic(PublicModel):
    job_id: str
    #: poll here (GET) until the status is no longer queued or running
    status_url: str


class PlanJobPublic(PublicModel):
    job_id: str
    service_date: date
    status: PlanJobStatus
    plan_version: int | None
    #: why a job failed or was busy: a code, never patient data
    detail: str


class MoveCreate(InputModel):
    """Move one stop of the published plan (or one of its unassigned bookings) to a medic's route."""

    booking_id: Id
    #: which part of a split group booking (1 unless the group was split)
    part: Annotated[int, Field(ge=1, le=20)] = 1
    medic_id: Id
    #: its place in the medic's route, from 0 (first); past the end: last
    position: Annotated[int, Field(ge=0, le=1000)]


class MoveCheckPublic(PublicModel):
    """What a move would do: the rules it breaks, in the checker's words (none: it may be made), and
    the day's figures before and after it, and their change."""

    version: int
    allowed: bool
    violations: list[str]
    before: dict[str, int]
    after: dict[str, int]
    delta: dict[str, int]


class MoveDonePublic(PublicModel):
    """A move made: the version it published."""

    version: int


class PlanVersionPublic(PublicModel):
    version: int
    #: draft, published, superseded or failed
    status: PlanStatus
    created_at: datetime
    published_at: datetime | None
    kpis: dict[str, int]


class PlanStopPublic(PublicModel):
    booking_id: int
    part: int
    #: the patients this part of the booking serves
    patient_ids: list[int]
    arrival: datetime
    start: datetime
    end: datetime


class RouteKpisPublic(PublicModel):
    """A route's figures: seconds, metres, visits."""

    driving_s: int
    distance_m: int
    idle_s: int
    service_s: int
    #: past the shift's soft end
    overtime_s: int
    visits: int


class PlanRoutePublic(PublicModel):
    medic_id: int
    departure: datetime
    arrival_home: datetime
    kpis: RouteKpisPublic
    breaks: list[BreakPublic]
    #: what to load in the car: supply code -> count
    stock: dict[str, int]
    stops: list[PlanStopPublic]


class PlanUnassignedPublic(PublicModel):
    booking_id: int
    part: int
    #: the patients of the part (empty for a booking held back whole)
    patient_ids: list[int]
    reason: str
    detail: str


class PlanIdleMedicPublic(PublicModel):
    """A medic on shift without a route, and why."""

    medic_id: int
    #: may_serve_nothing, needs_location or no_route
    reason: str
    detail: str


class PlanChangePublic(PublicModel):
    """A booking on a published route that changed since: ``cancelled``, ``moved`` (to another day),
    ``patients`` or ``details`` (window, place, services)."""

    booking_id: int
    change: str


class PlanPublic(PublicModel):
    version: int
    kpis: dict[str, int]
    #: solver figures: objective, runtime_s, strategy, searches
    solver: dict[str, Any]
    routes: list[PlanRoutePublic]
    unassigned: list[PlanUnassignedPublic]
    idle_medics: list[PlanIdleMedicPublic]
    #: bookings on the routes that changed since publish; any: the day needs a re-plan
    changed_since_publish: list[PlanChangePublic] = []
    needs_replan: bool = False

"""Request and response models of the API.

Responses are Public models: explicit allow-lists of fields, so a column added to a
table never reaches a client by accident. Inputs forbid unknown fields and never carry
server-owned fields (ids, status, plan version).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, AccountRole


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


class BreakPublic(PublicModel):
    start: datetime
    end: datetime


class RouteSheetPublic(PublicModel):
    date: date
    plan_version: int
    timezone: str
    medic_name: str
    departure: datetime
    arrival_home: datetime
    breaks: list[BreakPublic]
    #: what to load in the car: supply code -> count
    stock: dict[str, int]
    stops: list[SheetStopPublic]

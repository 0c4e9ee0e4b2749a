"""Who may serve which booking on which day, and which bookings wait for clearance."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from dispatch.models import BookingStatus, Credential, Medic, Patient, Service

#: a medic needs each of these, unexpired on the service day
REQUIRED_CREDENTIALS = ("licence", "iv_certification")

PLANNABLE = frozenset({BookingStatus.REQUESTED, BookingStatus.CLEARED, BookingStatus.PLANNED})


def clearance_flags(patient: Patient, service: Service) -> list[str]:
    """The screening answers that hold this patient's service for the medical director."""
    return [flag for flag in service.clearance_flags if patient.screening.get(flag)]


def credentials_valid(credentials: Iterable[Credential], day: date) -> bool:
    """Every required credential is on file and unexpired on ``day`` (valid through its expiry date)."""
    valid = {c.kind for c in credentials if c.expires_on >= day}
    return all(kind in valid for kind in REQUIRED_CREDENTIALS)


def role_may_give(medic: Medic, services: Iterable[Service]) -> bool:
    return all(medic.role.value in service.roles for service in services)


def may_serve(medic: Medic, credentials: Iterable[Credential], services: Iterable[Service], day: date) -> bool:
    """A medic may serve a booking on a day only if their role may give every
    service in it and their credentials are valid on that day."""
    return medic.active and role_may_give(medic, services) and credentials_valid(credentials, day)


def awaiting_clearance(status: BookingStatus, flagged: bool) -> bool:
    """A flagged booking is not planned until the medical director clears it."""
    return status is BookingStatus.NEEDS_CLEARANCE or (status is BookingStatus.REQUESTED and flagged)

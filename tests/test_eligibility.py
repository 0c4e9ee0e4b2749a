"""Who may serve which booking, and what waits for clearance."""

from __future__ import annotations

from datetime import date, timedelta

from dispatch.rules.eligibility import awaiting_clearance, clearance_flags, credentials_valid, may_serve
from dispatch.store.tables import BookingStatus, Credential, Medic, Patient, Role, Service

DAY = date(2026, 12, 2)
MAGNESIUM = Service(
    code="magnesium",
    name="Magnesium",
    infusion_minutes=50,
    roles=["RN", "NP"],
    clearance_flags=["kidney_disease", "arrhythmia", "interacting_medication"],
)
HYDRATION = Service(code="hydration", name="Hydration", infusion_minutes=40, roles=["RN", "paramedic", "NP"])


def _credentials(iv_expires: date) -> list[Credential]:
    return [
        Credential(medic_id=1, kind="licence", expires_on=DAY + timedelta(days=100)),
        Credential(medic_id=1, kind="iv_certification", expires_on=iv_expires),
    ]


def _medic(role: Role) -> Medic:
    return Medic(id=1, name="M", role=role, home_place_id=1)


def test_may_serve_refuses_a_medic_whose_certification_expired_the_day_before() -> None:
    """An IV certification that expired yesterday means no assignment today."""
    assert not may_serve(_medic(Role.RN), _credentials(DAY - timedelta(days=1)), [HYDRATION], DAY)


def test_may_serve_accepts_a_certification_on_its_last_valid_day() -> None:
    """A credential is valid through its expiry date."""
    assert may_serve(_medic(Role.RN), _credentials(DAY), [HYDRATION], DAY)


def test_credentials_valid_needs_every_required_kind() -> None:
    """A licence alone is not enough: the IV certification must be on file too."""
    assert not credentials_valid(_credentials(DAY)[:1], DAY)


def test_may_serve_refuses_a_role_not_allowed_for_one_service_of_the_booking() -> None:
    """A paramedic may give hydration but not magnesium, so not a booking with both."""
    paramedic = _medic(Role.PARAMEDIC)
    assert may_serve(paramedic, _credentials(DAY), [HYDRATION], DAY)
    assert not may_serve(paramedic, _credentials(DAY), [HYDRATION, MAGNESIUM], DAY)


def test_clearance_flags_hold_magnesium_for_kidney_disease_but_not_hydration() -> None:
    """Kidney disease flags a magnesium infusion, not a hydration."""
    patient = Patient(full_name="x", display_name="x", phone="0", date_of_birth=DAY, screening={"kidney_disease": True})
    assert clearance_flags(patient, MAGNESIUM) == ["kidney_disease"]
    assert clearance_flags(patient, HYDRATION) == []


def test_awaiting_clearance_until_the_medical_director_clears_it() -> None:
    """Flagged and requested, or needs_clearance: held. Cleared: planned."""
    assert awaiting_clearance(BookingStatus.REQUESTED, flagged=True)
    assert awaiting_clearance(BookingStatus.NEEDS_CLEARANCE, flagged=True)
    assert not awaiting_clearance(BookingStatus.CLEARED, flagged=True)
    assert not awaiting_clearance(BookingStatus.REQUESTED, flagged=False)

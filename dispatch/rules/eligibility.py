"""Who may serve which booking on which day, and which bookings wait for clearance.

A medic may serve a booking when they are active, their role may give every service in it,
their car has the pumps the part needs, and every credential their role needs is on file and
unexpired on the day. Which credential kinds each role needs is the company's data
(``[credentials]`` in config.toml, :class:`CredentialRules`); the reasons below name the real
cause, so a dispatcher can act on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from dispatch.store.tables import BookingStatus, Credential, Medic, Patient, Role, Service

PLANNABLE = frozenset({BookingStatus.REQUESTED, BookingStatus.CLEARED, BookingStatus.PLANNED})
ALL_ROLES = frozenset(Role)


def _default_required() -> Mapping[str, frozenset[Role]]:
    return {"licence": ALL_ROLES, "iv_certification": ALL_ROLES}


@dataclass(frozen=True)
class CredentialRules:
    """The credential kinds the company knows, and the roles that need each one.

    ``required`` maps a kind (``licence``) to the roles that must hold it unexpired on the
    service day. A kind no role needs may still be recorded (a kind must be known to be stored).
    """

    required: Mapping[str, frozenset[Role]] = field(default_factory=_default_required)

    def __post_init__(self) -> None:
        clean: dict[str, frozenset[Role]] = {}
        for kind, roles in self.required.items():
            if not isinstance(kind, str) or not kind or not kind.replace("_", "").isalnum() or kind != kind.lower():
                raise ValueError(f"[credentials] kind {kind!r} must be a lower-case code such as 'iv_certification'.")
            try:
                clean[kind] = frozenset(Role(role) for role in roles)
            except ValueError:
                raise ValueError(
                    f"[credentials] {kind} lists an unknown role; roles are {sorted(r.value for r in Role)}."
                ) from None
        # a plain dict: Settings travel to the re-plan's process by pickle, which a mapping proxy refuses
        object.__setattr__(self, "required", clean)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.required))

    def needed_by(self, role: Role) -> tuple[str, ...]:
        return tuple(kind for kind in self.kinds if role in self.required[kind])

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> CredentialRules:
        """Build from a ``[credentials]`` table: ``kind = ["RN", "paramedic", "NP"]``; empty: the defaults."""
        if not isinstance(table, Mapping):
            raise ValueError("[credentials] must be a table of kind = [roles].")
        if not table:
            return cls()
        for kind, roles in table.items():
            if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
                raise ValueError(f"[credentials] {kind} must be a list of roles, got {roles!r}.")
        return cls(cast(Mapping[str, frozenset[Role]], {kind: frozenset(roles) for kind, roles in table.items()}))


DEFAULT_RULES = CredentialRules()


def clearance_flags(patient: Patient, service: Service) -> list[str]:
    """The screening answers that hold this patient's service for the medical director."""
    return [flag for flag in service.clearance_flags if patient.screening.get(flag)]


def missing_credentials(
    medic: Medic, credentials: Iterable[Credential], day: date, rules: CredentialRules = DEFAULT_RULES
) -> tuple[str, ...]:
    """The kinds the medic's role needs that are not on file or expire before ``day`` (a credential
    is valid through its expiry date)."""
    valid = {c.kind for c in credentials if c.expires_on >= day}
    return tuple(kind for kind in rules.needed_by(medic.role) if kind not in valid)


def credentials_valid(
    credentials: Iterable[Credential], day: date, rules: CredentialRules = DEFAULT_RULES, role: Role = Role.RN
) -> bool:
    """Every credential ``role`` needs is on file and unexpired on ``day``."""
    valid = {c.kind for c in credentials if c.expires_on >= day}
    return all(kind in valid for kind in rules.needed_by(role))


def unavailable(
    medic: Medic, credentials: Iterable[Credential], day: date, rules: CredentialRules = DEFAULT_RULES
) -> str | None:
    """Why a medic on shift may serve nothing at all that day ("no valid licence on 2027-03-09"), or None."""
    if not medic.active:
        return "the medic is deactivated"
    missing = missing_credentials(medic, credentials, day, rules)
    if missing:
        return f"no valid {' or '.join(missing)} on {day.isoformat()}"
    return None


def role_may_give(medic: Medic, services: Iterable[Service]) -> bool:
    return all(medic.role.value in service.roles for service in services)


def may_serve(
    medic: Medic,
    credentials: Iterable[Credential],
    services: Iterable[Service],
    day: date,
    rules: CredentialRules = DEFAULT_RULES,
    pumps_needed: int = 0,
) -> bool:
    """A medic may serve a booking's part on a day only if they are active, their role may give every
    service in it, their car has the pumps it needs and their credentials are valid that day."""
    return (
        medic.active
        and role_may_give(medic, services)
        and medic.pumps >= pumps_needed
        and not missing_credentials(medic, credentials, day, rules)
    )


def why_nobody_may_serve(
    medics: Sequence[tuple[Medic, Sequence[Credential]]],
    services: Sequence[Service],
    day: date,
    rules: CredentialRules = DEFAULT_RULES,
    pumps_needed: int = 0,
) -> str:
    """What keeps every medic on shift from a booking's part, counted by cause, e.g.
    "of 17 medics on shift: 12 have no valid licence on 2027-03-09, 5 may not give magnesium"."""
    if not medics:
        return "no medic is on shift"
    causes: Counter[str] = Counter()
    for medic, credentials in medics:
        if not medic.active:
            causes["are deactivated"] += 1
            continue
        missing = missing_credentials(medic, credentials, day, rules)
        if missing:
            causes[f"have no valid {' or '.join(missing)} on {day.isoformat()}"] += 1
        elif not role_may_give(medic, services):
            refused = sorted({s.code for s in services if medic.role.value not in s.roles})
            causes[f"are {medic.role.value}s, who may not give {', '.join(refused)}"] += 1
        elif medic.pumps < pumps_needed:
            causes[f"carry fewer than {pumps_needed} pumps"] += 1
    parts = [f"{count} {cause}" for cause, count in sorted(causes.items(), key=lambda item: (-item[1], item[0]))]
    return f"of {len(medics)} medic(s) on shift: " + "; ".join(parts)


def awaiting_clearance(status: BookingStatus, flagged: bool, cleared: bool = False) -> bool:
    """A flagged booking is not planned until the medical director clears it (clearance is kept
    when the booking is planned and later dropped again)."""
    if cleared:
        return False
    return status is BookingStatus.NEEDS_CLEARANCE or (status is BookingStatus.REQUESTED and flagged)

"""The credential kinds the company records (dispatchers and admins): ``[credentials]`` in config.toml.

A medic's credentials must name one of these kinds; a medic whose role needs a kind, and who has
none unexpired on a day, is planned for nothing that day (and the plan says so).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RequireDispatcher, SettingsDep
from api.models import CredentialKindPublic

router = APIRouter(prefix="/credential-kinds", tags=["medics"], dependencies=[RequireDispatcher])


@router.get("", response_model=list[CredentialKindPublic])
def read_credential_kinds(settings: SettingsDep) -> list[CredentialKindPublic]:
    """Each kind, and the roles that need it unexpired on a service day to be planned at all."""
    rules = settings.credentials
    return [
        CredentialKindPublic(kind=kind, required_for=sorted(rules.required[kind], key=lambda role: role.value))
        for kind in rules.kinds
    ]

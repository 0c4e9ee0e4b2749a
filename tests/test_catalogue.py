"""The service catalogue as stored and edited."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch.records.catalogue import seed_services
from dispatch.store.db import session_scope
from dispatch.store.tables import Service


def test_seed_services_keeps_the_catalogue_as_edited(engine: Engine) -> None:
    """Seeding twice adds each default once and keeps a dispatcher's edit."""
    with session_scope(engine) as session:
        seed_services(session)
    with session_scope(engine) as session:
        hydration = session.exec(select(Service).where(Service.code == "hydration")).one()
        hydration.infusion_minutes = 35
        session.add(hydration)
    with session_scope(engine) as session:
        seed_services(session)
    with Session(engine) as session:
        rows = session.exec(select(Service)).all()
        assert len(rows) == len({r.code for r in rows}) == 8
        assert next(r for r in rows if r.code == "hydration").infusion_minutes == 35
        magnesium = next(r for r in rows if r.code == "magnesium")
        assert magnesium.roles == ["RN", "NP"]
        assert magnesium.clearance_flags == ["kidney_disease", "arrhythmia", "interacting_medication"]

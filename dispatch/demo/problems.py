"""A generated day's planning input, built in a throwaway in-memory database.

The day goes through the same translation as a real re-plan (:func:`dispatch.planning.translate.build_day`):
the catalogue's durations, roles and credentials, Colorado breaks, groups cut to pumps.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, SQLModel

from dispatch.demo.day import DayKind, GeneratedDay, seed_day
from dispatch.planning.translate import DayInput, build_day
from dispatch.records.catalogue import seed_services
from dispatch.store.config import Settings
from dispatch.store.db import make_engine


def day_input(
    kind: DayKind, *, seed: int, day: date = date(2027, 3, 6), settings: Settings | None = None
) -> tuple[DayInput, GeneratedDay]:
    """The planning input of a generated day, and what the generator made."""
    engine = make_engine("sqlite:///:memory:")
    SQLModel.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            seed_services(session)
            session.flush()
            made = seed_day(session, day, kind, seed=seed)
            session.commit()
            return build_day(session, day, settings or Settings()), made
    finally:
        engine.dispose()

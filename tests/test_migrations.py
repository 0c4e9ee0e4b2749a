"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from dispatch.store.db import alembic_config, make_engine, migrate
from dispatch.store.tables import Booking, PlanUnassigned


def test_migrated_schema_has_no_difference_from_the_models(engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to add, drop or alter after `migrate` (the fixture migrated)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_migrating_a_database_with_plans_keeps_every_row(tmp_path: Path) -> None:
    """A database at revision 0005 holding a published plan migrates to the head: SQLite copies the
    booking table to add its constraints, and rows that point at it (stops, patients) survive."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0005")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO place (id, address, kind, access_notes, geocode_status) VALUES (1, 'x', 'HOME', '', 'GIVEN')"
        )
        connection.exec_driver_sql(
            "INSERT INTO booking (id, place_id, service_date, window_start, window_end, status, priority, created_at)"
            " VALUES (1, 1, '2026-12-02', '2026-12-02 16:00:00', '2026-12-02 18:00:00', 'CLEARED', 1,"
            " '2026-12-01 12:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO plan (id, service_date, version, status, input_hash, created_at, solver, kpis)"
            " VALUES (1, '2026-12-02', 1, 'PUBLISHED', 'h', '2026-12-01 12:00:00', '{}', '{}')"
        )
        connection.exec_driver_sql(
            "INSERT INTO plan_unassigned (id, plan_id, booking_id, part, reason, detail)"
            " VALUES (1, 1, 1, 1, 'no_room', 'full')"
        )
    migrate(engine)
    with Session(engine) as session:
        booking = session.get(Booking, 1)
        assert booking is not None and booking.cleared_at is not None  # a cleared booking keeps its clearance
        assert session.get(PlanUnassigned, 1) is not None
    engine.dispose()

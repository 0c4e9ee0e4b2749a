"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import dispatch.accounts
import dispatch.audit
import dispatch.calendar_feeds
import dispatch.models  # noqa: F401  (each module registers its tables)


def test_migrated_schema_has_no_difference_from_the_models(engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to add, drop or alter after `migrate` (the fixture migrated)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []

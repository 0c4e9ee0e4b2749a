"""pins: a dispatcher's "this booking goes to this medic" (and, optionally, "at this time"), kept by
every re-plan: ``booking.pinned_medic_id``, ``booking.pinned_start`` and ``booking.pinned_at``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.store.tables

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("pinned_medic_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pinned_start", dispatch.store.tables.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pinned_at", dispatch.store.tables.UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_booking_pinned_medic", "medic", ["pinned_medic_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_constraint("fk_booking_pinned_medic", type_="foreignkey")
        batch.drop_column("pinned_at")
        batch.drop_column("pinned_start")
        batch.drop_column("pinned_medic_id")

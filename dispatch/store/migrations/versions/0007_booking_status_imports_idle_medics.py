"""booking status and clearance, external references, idle medics of a plan

* ``booking.cleared_at``: the medical director's clearance, kept when a plan drops the booking again;
  ``booking.plan_version`` and ``booking.status_reason``: the published version a booking is on,
  or why the last one left it out.
* ``source`` and ``external_ref`` on bookings and medics, unique together: importing a file again
  updates what it created instead of doubling it.
* ``plan_idle_medic``: the medics on shift a plan gives no route, and why; ``plan_unassigned.patient_ids``:
  which patients a part left out holds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dispatch.store.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("cleared_at", dispatch.store.tables.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("plan_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_reason", sqlmodel.AutoString(), nullable=True))
        batch.add_column(sa.Column("source", sqlmodel.AutoString(), nullable=True))
        batch.add_column(sa.Column("external_ref", sqlmodel.AutoString(), nullable=True))
        batch.create_unique_constraint("uq_booking_source_ref", ["source", "external_ref"])
    with op.batch_alter_table("medic") as batch:
        batch.add_column(sa.Column("source", sqlmodel.AutoString(), nullable=True))
        batch.add_column(sa.Column("external_ref", sqlmodel.AutoString(), nullable=True))
        batch.create_unique_constraint("uq_medic_source_ref", ["source", "external_ref"])
    # a booking cleared before this migration keeps its clearance
    op.execute("UPDATE booking SET cleared_at = created_at WHERE status = 'CLEARED'")
    with op.batch_alter_table("plan_unassigned") as batch:
        batch.add_column(sa.Column("patient_ids", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "plan_idle_medic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("medic_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.AutoString(), nullable=False),
        sa.Column("detail", sqlmodel.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["medic_id"], ["medic.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_plan_idle_medic_plan_id"), "plan_idle_medic", ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plan_unassigned") as batch:
        batch.drop_column("patient_ids")
    op.drop_index(op.f("ix_plan_idle_medic_plan_id"), table_name="plan_idle_medic")
    op.drop_table("plan_idle_medic")
    with op.batch_alter_table("medic") as batch:
        batch.drop_constraint("uq_medic_source_ref", type_="unique")
        batch.drop_column("external_ref")
        batch.drop_column("source")
    with op.batch_alter_table("booking") as batch:
        batch.drop_constraint("uq_booking_source_ref", type_="unique")
        for name in ("external_ref", "source", "status_reason", "plan_version", "cleared_at"):
            batch.drop_column(name)

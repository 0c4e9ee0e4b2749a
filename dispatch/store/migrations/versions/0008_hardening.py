"""stored route sheets, idempotency keys, re-plan slots and job processes, a keyed audit trail, the ready probe

* ``route_sheet``: each medic's sheet of a published plan as it is served (assembled at publish, and
  again when an edit touches it), with what changed since publish.
* ``idempotency_record``: a claimed ``Idempotency-Key`` per account, and the answer kept for a repeat.
* ``replan_slot``: the places a re-plan solves in (``[planning] max_concurrent_replans``);
  ``plan_job.worker``: the process running a job, so a job whose process died is failed at once.
* ``audit_head``: the head's HMAC, and the rows written before the trail was keyed (verified as
  the plain sha256 chain they are, up to this count and hash).
* ``ready_probe``: the row ``/ready`` writes.

Published plans from before this migration get their sheets stored on their first read.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dispatch.store.tables

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_sheet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("medic_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.AutoString(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("updated_at", dispatch.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["medic_id"], ["medic.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "medic_id", name="uq_route_sheet_plan_medic"),
    )
    op.create_index(op.f("ix_route_sheet_plan_id"), "route_sheet", ["plan_id"], unique=False)
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sqlmodel.AutoString(), nullable=False),
        sa.Column("request_hash", sqlmodel.AutoString(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", dispatch.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key_hash", name="uq_idempotency_user_key"),
    )
    op.create_index(op.f("ix_idempotency_record_user_id"), "idempotency_record", ["user_id"], unique=False)
    op.create_table(
        "replan_slot",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sqlmodel.AutoString(), nullable=False),
        sa.Column("expires_at", dispatch.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
    )
    op.create_table(
        "ready_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", dispatch.store.tables.UTCDateTime(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_job") as batch:
        batch.add_column(sa.Column("worker", sqlmodel.AutoString(), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("mac", sqlmodel.AutoString(), nullable=True))
        batch.add_column(sa.Column("legacy_events", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("legacy_last_hash", sqlmodel.AutoString(), nullable=False, server_default="0" * 64))
    # the rows so far were hashed without a key: they stay verifiable as the unkeyed chain they are
    op.execute("UPDATE audit_head SET legacy_events = events, legacy_last_hash = last_hash")


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        for name in ("legacy_last_hash", "legacy_events", "mac"):
            batch.drop_column(name)
    with op.batch_alter_table("plan_job") as batch:
        batch.drop_column("worker")
    op.drop_table("ready_probe")
    op.drop_table("replan_slot")
    op.drop_index(op.f("ix_idempotency_record_user_id"), table_name="idempotency_record")
    op.drop_table("idempotency_record")
    op.drop_index(op.f("ix_route_sheet_plan_id"), table_name="route_sheet")
    op.drop_table("route_sheet")

"""calendar feeds

One row per issued calendar-feed address: its token's sha256 digest, whose it is, and when it
was revoked (a medic has one live feed at a time).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import dispatch.store.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.AutoString(), nullable=False),
        sa.Column("created_at", dispatch.store.tables.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", dispatch.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_calendar_feed_token_hash"), "calendar_feed", ["token_hash"], unique=True)
    op.create_index(op.f("ix_calendar_feed_user_id"), "calendar_feed", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feed_user_id"), table_name="calendar_feed")
    op.drop_index(op.f("ix_calendar_feed_token_hash"), table_name="calendar_feed")
    op.drop_table("calendar_feed")

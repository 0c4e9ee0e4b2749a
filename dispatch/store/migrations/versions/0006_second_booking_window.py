"""second booking window

A booking may name a second arrival window the patient also accepts (``alt_window_start`` and
``alt_window_end``, both set or both empty). Existing bookings have one window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatch.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("alt_window_start", dispatch.store.tables.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("alt_window_end", dispatch.store.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("alt_window_end")
        batch.drop_column("alt_window_start")

"""drop ``medic.skills``: what a medic may give follows from their role and credentials
(:mod:`dispatch.rules.eligibility`), and nothing ever read the column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("medic") as batch:
        batch.drop_column("skills")


def downgrade() -> None:
    with op.batch_alter_table("medic") as batch:
        batch.add_column(sa.Column("skills", sa.JSON(), nullable=False, server_default="[]"))

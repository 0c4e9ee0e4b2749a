"""token kinds

Each API token says where it may be presented: ``bearer`` (an Authorization header) or
``session`` (the phone's sign-in cookie, which only reads). Existing tokens are bearer tokens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("kind", sqlmodel.AutoString(), nullable=False, server_default="bearer"))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("kind")

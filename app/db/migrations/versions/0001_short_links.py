"""Short links: scenarios stored by content, and links to a step of a run of one.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario_versions",
        # The scenario's fingerprint: a content hash of its canonical JSON (app/sim/program.py).
        sa.Column("hash", sa.String(16), primary_key=True),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "short_links",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("scenario_hash", sa.String(16), sa.ForeignKey("scenario_versions.hash"), nullable=False),
        # The built-in scenario the link was made from; NULL for a scenario of one's own.
        sa.Column("built_in", sa.String(64), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("short_links")
    op.drop_table("scenario_versions")

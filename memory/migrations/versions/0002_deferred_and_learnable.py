"""Memories: the "deferred" status (a stated fact over a night's capacity waits for the next night, never
dropped), with its reason and cycle; the learnability mark the tuner sets (whether the model, with the
memory in context, says its value); and the facts the text states (what self-study asks about).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = "status IN ('active', 'superseded', 'forgotten')"
NEW = "status IN ('active', 'superseded', 'forgotten', 'deferred')"


def upgrade() -> None:
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_memories_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_memories_status"), NEW)
        batch_op.add_column(sa.Column("deferred_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("deferred_cycle_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("learnable", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("learn_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("facts_json", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.create_foreign_key(
            batch_op.f("fk_memories_deferred_cycle_id_cycles"), "cycles", ["deferred_cycle_id"], ["id"]
        )


def downgrade() -> None:
    # The old schema has no status for a deferred item; rather than relabel (and so lose) one, refuse.
    waiting = (
        op.get_bind().exec_driver_sql("SELECT count(*) FROM memories WHERE status = 'deferred'").scalar()
    )
    if waiting:
        raise RuntimeError(f"{waiting} deferred memories have no status in revision 0001; run a cycle first")
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_memories_deferred_cycle_id_cycles"), type_="foreignkey")
        batch_op.drop_column("facts_json")
        batch_op.drop_column("learn_note")
        batch_op.drop_column("learnable")
        batch_op.drop_column("deferred_cycle_id")
        batch_op.drop_column("deferred_reason")
        batch_op.drop_constraint(batch_op.f("ck_memories_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_memories_status"), OLD)

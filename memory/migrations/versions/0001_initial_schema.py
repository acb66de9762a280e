"""Initial schema: conversations, messages, feedback, cycles, decisions, memories, probes,
generations, pointers and events.

Times are fixed-width UTC ISO-8601 text (memory.schema.UTCDateTime); migrations use plain String(32) so that
they never depend on the live models.

Revision ID: 0001
Revises: -
Create Date: 2026-11-25 00:12:33.714565
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
        "conversations",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("metadata_json", sa.JSON(), nullable=False),
        sa.CheckConstraint("source IN ('api', 'import', 'chat')", name=op.f("ck_conversations_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=True),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details_json", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_generation_id"), ["generation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_ts"), ["ts"], unique=False)

    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("base_model_id", sa.Text(), nullable=False),
        sa.Column("base_model_sha256", sa.String(length=64), nullable=False),
        sa.Column("dir_name", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("removed_at", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('state', 'lora')", name=op.f("ck_generations_kind")),
        sa.CheckConstraint(
            "status IN ('base', 'candidate', 'promoted', 'rejected')", name=op.f("ck_generations_status")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_generations_cycle_id_cycles"), use_alter=True
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["generations.id"], name=op.f("fk_generations_parent_id_generations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generations")),
    )
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=True),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("watermark_from", sa.Integer(), nullable=False),
        sa.Column("watermark_to", sa.Integer(), nullable=True),
        sa.Column("parent_generation_id", sa.Integer(), nullable=True),
        sa.Column("candidate_generation_id", sa.Integer(), nullable=True),
        sa.Column("rebuild", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'reflecting', 'tuning', 'evaluating', "
            "'promoted', 'rejected', 'failed', 'skipped')",
            name=op.f("ck_cycles_status"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_generation_id"],
            ["generations.id"],
            name=op.f("fk_cycles_candidate_generation_id_generations"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_generation_id"],
            ["generations.id"],
            name=op.f("fk_cycles_parent_generation_id_generations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycles")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "messages",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=256), nullable=False),
        sa.Column("message_id", sa.String(length=256), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant', 'system')", name=op.f("ck_messages_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_messages_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "conversation_id", "message_id", name=op.f("uq_messages_conversation_id_message_id")
        ),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_messages_conversation_id_seq")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_message_id", ["message_id"], unique=False)

    op.create_table(
        "pointers",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"], ["generations.id"], name=op.f("fk_pointers_generation_id_generations")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pointers")),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("source_message_ids", sa.JSON(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("components_json", sa.JSON(), nullable=False),
        sa.Column("reasons_json", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_decisions_cycle_id_cycles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_cycle_id"), ["cycle_id"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("rating >= -1.0 AND rating <= 1.0", name=op.f("ck_feedback_rating_range")),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.pk"], name=op.f("fk_feedback_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_message_pk"), ["message_pk"], unique=False)

    op.create_table(
        "memories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("relation", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.String(length=32), nullable=True),
        sa.Column("created_cycle_id", sa.Integer(), nullable=True),
        sa.Column("source_message_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("forgotten_at", sa.String(length=32), nullable=True),
        sa.Column("forget_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'superseded', 'forgotten')", name=op.f("ck_memories_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_cycle_id"], ["cycles.id"], name=op.f("fk_memories_created_cycle_id_cycles")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["memories.id"], name=op.f("fk_memories_superseded_by_memories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memories_created_cycle_id"), ["created_cycle_id"], unique=False)
        batch_op.create_index("ix_memories_slot", ["subject", "relation", "status"], unique=False)

    op.create_table(
        "probes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("memory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("split", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("kind IN ('cloze', 'qa')", name=op.f("ck_probes_kind")),
        sa.CheckConstraint("split IN ('train', 'eval')", name=op.f("ck_probes_split")),
        sa.CheckConstraint("status IN ('active', 'forgotten')", name=op.f("ck_probes_status")),
        sa.ForeignKeyConstraint(["memory_id"], ["memories.id"], name=op.f("fk_probes_memory_id_memories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("probes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probes_memory_id"), ["memory_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("probes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probes_memory_id"))

    op.drop_table("probes")
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index("ix_memories_slot")
        batch_op.drop_index(batch_op.f("ix_memories_created_cycle_id"))

    op.drop_table("memories")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_message_pk"))

    op.drop_table("feedback")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_cycle_id"))

    op.drop_table("decisions")
    op.drop_table("pointers")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_message_id")

    op.drop_table("messages")
    op.drop_table("cycles")
    op.drop_table("generations")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_ts"))
        batch_op.drop_index(batch_op.f("ix_events_generation_id"))
        batch_op.drop_index(batch_op.f("ix_events_action"))

    op.drop_table("events")
    op.drop_table("conversations")

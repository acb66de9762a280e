"""Alembic revisions, one file each, applied in order by `memory.db.migrate`."""

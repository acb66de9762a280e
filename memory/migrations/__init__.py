"""Alembic migrations of the sleepd database (see memory/db.py: `migrate`)."""

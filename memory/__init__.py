"""Persistence of sleepd (SQLite through SQLAlchemy 2, migrations by Alembic) and the generations store.

db           engines, sessions (`Database.write()` / `.read()`), `migrate`
writer       the daemon's single writer thread with group commit
schema       the tables; migrations/ holds their Alembic history
log          conversations, messages and feedback (the import format)
bank         memory items, probes, supersede history, forget marks
decisions    reflection decisions (kept / dropped, with reasons)
cycles       sleep-cycle rows and their state machine
generations  versioned states on disk: promote, rollback, verify, gc, diff, load with fallback
events       the audit log
errors       InputError (exit 2 / 4xx), NotFound, Conflict, IntegrityFailure (exit 1)
faults       named fault points for crash tests (SLEEPD_FAULT)
"""

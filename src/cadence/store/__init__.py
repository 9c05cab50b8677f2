"""The store: people, events, attendees and sync state in SQLite or PostgreSQL.

``models`` declares the tables, ``database`` opens an engine (every failure of the database one
line, every secret of a URL masked) and checks the schema version, ``upsert`` saves normalised
events in bulk (idempotent upserts), after ``fitting`` has put every value a calendar sends into
the form its column can hold, ``sync_state`` saves them with a mailbox's sync token, ``people``
keeps the org chart, ``budget`` the sources' request budgets that every host of a night draws
from, ``reads`` the pipeline's frames (as Arrow, through ``arrow_reads``). Migrations live in
``migrations/`` (Alembic).
"""

"""The store: people, events, attendees and sync state in SQLite or PostgreSQL.

``models`` declares the tables, ``database`` opens an engine and checks the schema version,
``events`` saves normalised events in bulk (idempotent upserts) together with a mailbox's sync
token, ``people`` keeps the org chart. Migrations live in ``migrations/`` (Alembic).
"""

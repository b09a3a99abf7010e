"""Alembic migrations of the bridge's own database (run through ``feed.migrate``)."""

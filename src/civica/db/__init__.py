"""Metadata store: SQLAlchemy 2 models, engines per dialect, Alembic migrations."""

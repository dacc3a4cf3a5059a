"""The Alembic migrations build exactly the schema the ORM models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import civica.db.models  # noqa: F401  (registers every table)
from civica.db.base import Base
from civica.db.engine import make_engine
from civica.db.migrate import upgrade


@pytest.mark.fresh_metadata
def test_migrations_match_the_models(metadata_url: str) -> None:
    engine = make_engine(metadata_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert drift == [], (
        "the models and the migrations differ; regenerate with `make migration`: " + repr(drift)
    )

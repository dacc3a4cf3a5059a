"""Alembic environment: the engine comes from civica (config attribute) or CIVICA_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import civica.db.models  # noqa: F401  (registers every table on Base.metadata)
from civica.db.base import Base
from civica.db.engine import make_engine
from civica.settings import Settings

engine: Engine | None = context.config.attributes.get("engine")
if engine is None:
    engine = make_engine(Settings().metadata_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

"""The running platform's shared state: settings, metadata engine, sessions, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from civica.db.engine import make_engine, make_sessionmaker
from civica.security import SecretBox
from civica.settings import Settings


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secrets: SecretBox
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> Platform:
        settings.ensure_data_dir()
        engine = make_engine(settings.metadata_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            secrets=SecretBox.from_settings(settings.secret_key, settings.data_dir),
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

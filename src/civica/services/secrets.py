"""Re-encrypting every secret at rest with the newest key (secret key rotation)."""

from __future__ import annotations

from sqlalchemy import LargeBinary, select, update
from sqlalchemy.orm import Session

from civica.db.base import Base
from civica.security import SecretBox

SUFFIX = "_encrypted"


def encrypted_columns() -> list[tuple[str, str]]:
    """(table, column) of every encrypted column: by convention, binary columns `*_encrypted`."""
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith(SUFFIX) and isinstance(column.type, LargeBinary)
    ]


def rotate_all(*, session: Session, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the first configured key; returns how many."""
    count = 0
    for table_name, column_name in encrypted_columns():
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        pk = next(iter(table.primary_key.columns))
        for key, token in session.execute(select(pk, column).where(column.is_not(None))).all():
            session.execute(update(table).where(pk == key).values({column_name: box.rotate(token)}))
            count += 1
    return count

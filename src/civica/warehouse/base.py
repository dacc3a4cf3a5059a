"""What civica needs from a database it connects to on a user's behalf (a "warehouse")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

# Schemas every engine has for its own catalog; they are not listed to users.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast"})


class WarehouseError(Exception):
    """A connection or statement failed. The message is safe to show to the caller: it never
    contains a password."""


class Warehouse(ABC):
    """One database, reached with one login. Open with `civica.warehouse.open_warehouse`, use,
    then `close()` (or use it as a context manager)."""

    @property
    @abstractmethod
    def display_url(self) -> str:
        """The URL with any password masked, for messages."""

    @abstractmethod
    def check_login(self) -> None:
        """Connect and run `SELECT 1`; raise WarehouseError saying why when that fails."""

    @abstractmethod
    def list_schemas(self) -> list[str]:
        """The names of the user-visible schemas, sorted."""

    @abstractmethod
    def ensure_schema(self, name: str) -> None:
        """Create the schema `name` if it does not exist yet."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

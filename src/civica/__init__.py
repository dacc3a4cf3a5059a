"""civica: a self-hostable data-science platform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from civica.client import APIClient as APIClient

__all__ = ["APIClient", "__version__"]


def __getattr__(name: str) -> Any:
    # The client is imported lazily so that `import civica` stays cheap for the server.
    if name == "APIClient":
        from civica.client import APIClient

        return APIClient
    raise AttributeError(name)

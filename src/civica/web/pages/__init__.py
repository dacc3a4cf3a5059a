"""One module per page group; each exposes `router` and `NAV` ((label, href) for the header, or
None). PAGES lists them in header order: adding a resource's pages is one module plus one line."""

from __future__ import annotations

from types import ModuleType

from civica.web.pages import (
    auth,
    credentials,
    databases,
    files,
    imports,
    keys,
    models,
    projects,
    queries,
    reports,
    runs,
    scripts,
    shares,
)

PAGES: list[ModuleType] = [
    auth,
    projects,
    scripts,
    queries,
    models,
    reports,
    imports,
    runs,
    files,
    databases,
    credentials,
    keys,
    shares,
]

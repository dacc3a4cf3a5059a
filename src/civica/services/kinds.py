"""The registry of object kinds that share the common capabilities (shares, projects, archive)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from civica.services.actor import Actor


@dataclass(frozen=True)
class ObjectKind:
    """One kind of owned object.

    `path` is its URL segment (`projects`), `object_type` the value stored in shares and project
    membership rows, `detail` builds the full response for one row (used by archive and friends).
    """

    path: str
    object_type: str
    label: str
    row: Any
    detail: Callable[[Session, Actor, Any], BaseModel]
    detail_schema: type[BaseModel]
    # The kind's name in the seed's summaries ("Add a Data::S3File to a project").
    seed_name: str = ""
    # Where objects of this kind appear in a project's detail (`files`, `scripts`, ...), and how
    # one is described there; None for kinds that cannot be put in projects.
    project_section: str | None = None
    project_entry: Callable[[Any], dict[str, Any]] | None = None
    fco_type: str = ""

    @property
    def summary_name(self) -> str:
        return self.seed_name or self.label


KINDS: dict[str, ObjectKind] = {}


def register(kind: ObjectKind) -> ObjectKind:
    KINDS[kind.object_type] = kind
    return kind

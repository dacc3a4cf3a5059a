"""Router factories for capabilities shared by several object kinds, mounted once per kind."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from civica.services.kinds import ObjectKind

Capability = Callable[[ObjectKind], APIRouter]

"""Who is acting: the authenticated user with the groups they belong to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    username: str
    name: str
    is_admin: bool = False
    group_ids: frozenset[int] = field(default_factory=frozenset)

"""A page of a list: the parameters asked for and the items found."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.responses import Response

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    page_num: int
    order: str
    order_dir: str

    @property
    def offset(self) -> int:
        return (self.page_num - 1) * self.limit


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    params: PageParams

    def respond(self, response: Response) -> list[T]:
        """Set the `X-Pagination-*` headers (for people; clients stop on `[]`) and return items."""
        p = self.params
        response.headers["X-Pagination-Total-Entries"] = str(self.total)
        response.headers["X-Pagination-Per-Page"] = str(p.limit)
        response.headers["X-Pagination-Current-Page"] = str(p.page_num)
        response.headers["X-Pagination-Total-Pages"] = str(max(1, math.ceil(self.total / p.limit)))
        return self.items

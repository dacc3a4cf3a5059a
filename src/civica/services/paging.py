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

    def total_from(self, found: int) -> int | None:
        """The total when a page alone tells it (a short, non-empty page, or an empty first
        page); None when it takes a count."""
        if 0 < found < self.limit or (found == 0 and self.page_num == 1):
            return self.offset + found
        return None


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

"""Webhooks: a JSON POST to a job's notification URLs when a run ends."""

from __future__ import annotations

from typing import Any

import httpx

import civica
from civica.notify.deliveries import PermanentError
from civica.settings import Settings


def check_url(url: str) -> str:
    """The URL if it can receive a webhook (http or https with a host); ValueError otherwise."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ValueError(f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} must be an http:// or https:// URL with a host")
    return url


def post_webhook(settings: Settings, url: str, body: dict[str, Any], event: str) -> None:
    """POST `body` as JSON; raises on a connection error or an error status."""
    response = httpx.post(
        url,
        json=body,
        timeout=settings.smtp_timeout_seconds,
        headers={"User-Agent": f"civica/{civica.__version__}", "X-Civica-Event": event},
        follow_redirects=False,
    )
    status = response.status_code
    if status < 300:
        return
    message = f"{url} answered HTTP {status}"
    # A client error other than a timeout or rate limit will not change on a retry.
    if 400 <= status < 500 and status not in (408, 425, 429):
        raise PermanentError(message)
    raise RuntimeError(message)

"""Signed, expiring URL tokens for the local store's transfer routes.

A token is `base64url(claims JSON).base64url(HMAC-SHA256)`, keyed with a key derived (HKDF) from
the platform's secret key, so it cannot be forged or altered, and dies with a key rotation. Claims
always hold the action (`a`), the object key (`k`) and the expiry in Unix seconds (`e`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from civica.settings import Settings

MAX_TOKEN_CHARS = 4096
# Where civica serves its transfer URLs (civica.api.resources.file_transfer).
TRANSFER_PREFIX = "/transfer"


class TokenError(Exception):
    """A transfer URL that cannot be used; the message tells the holder what to do."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(settings: Settings) -> bytes:
    """A key for transfer URLs, derived from the first (newest) platform secret key."""
    material = settings.secret_key
    if not material:
        material = (settings.data_dir / "secret.key").read_text()
    first = material.split(",")[0].strip().encode()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"civica transfer urls v1")
    return hkdf.derive(first)


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()

    def sign(self, action: str, key: str, expires: float, **claims: Any) -> str:
        body = {"a": action, "k": key, "e": int(expires), **claims}
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def url(self, base_url: str, action: str, key: str, expires: float, **claims: Any) -> str:
        """An absolute transfer URL on civica for `action` on `key`."""
        token = self.sign(action, key, expires, **claims)
        return f"{base_url.rstrip('/')}{TRANSFER_PREFIX}/{action}/{token}"

    def verify(self, token: str, action: str, now: float | None = None) -> dict[str, Any]:
        """The claims of a genuine, unexpired token for `action`; TokenError otherwise."""
        payload, _, mac = token.partition(".")
        try:
            if len(token) > MAX_TOKEN_CHARS or not payload or not mac:
                raise ValueError
            given = _unb64(mac)
            payload.encode("ascii")
        except (ValueError, binascii.Error):
            raise TokenError(
                "this transfer URL is malformed; use the exact URL the API returned"
            ) from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise TokenError(
                "this transfer URL's signature does not match: it was altered, or signed by "
                "another server or an older secret key; ask the API for a new URL"
            )
        claims: dict[str, Any] = json.loads(_unb64(payload))
        if claims.get("a") != action:
            raise TokenError(f"this URL is not a {action} URL; use it for what it was issued for")
        expires = int(claims.get("e", 0))
        if (time.time() if now is None else now) >= expires:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
            raise TokenError(
                f"this transfer URL expired at {stamp}; ask the API for a new one "
                "(GET /files/{id} for downloads, POST /files for uploads)"
            )
        return claims

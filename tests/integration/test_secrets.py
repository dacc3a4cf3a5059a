"""Secret key rotation re-encrypts every secret so the old key can be dropped."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select

from civica.db.models import RemoteHostRow
from civica.platform import Platform
from civica.security import SecretBox
from civica.services.secrets import encrypted_columns, rotate_all


def test_rotation_moves_every_secret_to_the_new_key(platform: Platform) -> None:
    assert ("remote_hosts", "url_encrypted") in encrypted_columns()
    old = (platform.settings.data_dir / "secret.key").read_text().strip()
    new = Fernet.generate_key().decode()
    with platform.transaction() as session:
        before = session.scalars(select(RemoteHostRow.url_encrypted)).all()
        assert before, "bootstrap registers the embedded database"
        count = rotate_all(session=session, box=SecretBox(f"{new},{old}"))
    assert count >= len(before)
    only_new = SecretBox(new)
    with platform.transaction() as session:
        urls = [only_new.decrypt(t) for t in session.scalars(select(RemoteHostRow.url_encrypted))]
    assert all(u.startswith("duckdb:///") for u in urls)

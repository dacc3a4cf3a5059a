"""The foundation's "done when": a newcomer starts civica, gets an API key, and with both civica's
client and the public `civis` client creates a credential, lists databases and their schemas,
creates a project and shares it with a second user, who then sees it while a third does not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import civis
import pytest

import civica
from tests.e2e.conftest import Served


@contextmanager
def civis_env(monkeypatch: pytest.MonkeyPatch, url: str, key: str) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setenv("CIVIS_API_ENDPOINT", url + "/")
        m.setenv("CIVIS_API_KEY", key)
        yield


def first_key(served: Served) -> str:
    match = re.search(r"^\s{4}(\S{20,})\s*$", "".join(served.output), re.M)
    assert match, "".join(served.output)
    return match.group(1)


def new_user(served: Served, name: str) -> tuple[int, str]:
    result = served.admin_cli("create-user", name)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    me = civica.APIClient(api_key=key, api_endpoint=served.url).users.list_me()
    return int(me.id), key


def test_newcomer_with_civica_client(served: Served) -> None:
    client = civica.APIClient(api_key=first_key(served), api_endpoint=served.url)
    cred = client.credentials.post("Custom", "svc", "s3cret-pw", name="service")
    assert cred.username == "svc" and "password" not in cred.json()
    databases = client.databases.list()
    embedded = next(d for d in databases if d.name == "civica")
    schemas = {s.schema for s in client.databases.list_schemas(embedded.id)}
    assert "public" in schemas
    project = client.projects.post("Churn", "Q3 churn analysis")

    bob_id, bob_key = new_user(served, "bob")
    _, carol_key = new_user(served, "carol")
    shares = client.projects.put_shares_users(project.id, [bob_id], "read")
    assert [u.id for u in shares.readers.users] == [bob_id]
    bob = civica.APIClient(api_key=bob_key, api_endpoint=served.url)
    carol = civica.APIClient(api_key=carol_key, api_endpoint=served.url)
    assert [p.id for p in bob.projects.list()] == [project.id]
    assert bob.projects.get(project.id).name == "Churn"
    assert carol.projects.list() == []
    with pytest.raises(civica.client.APIError) as err:
        carol.projects.get(project.id)
    assert err.value.status_code == 404


def test_newcomer_with_public_civis_client(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    with civis_env(monkeypatch, served.url, first_key(served)):
        client = civis.APIClient()
        cred = client.credentials.post("Custom", "svc", "s3cret-pw", name="service")
        assert cred.username == "svc"
        assert client.credentials.list(type="Database", default=True)[0].id
        embedded = next(d for d in client.databases.list() if d.name == "civica")
        assert "public" in {s.schema for s in client.databases.list_schemas(embedded.id)}
        project = client.projects.post("Churn", "Q3 churn analysis")
    bob_id, bob_key = new_user(served, "bob")
    _, carol_key = new_user(served, "carol")
    with civis_env(monkeypatch, served.url, first_key(served)):
        civis.APIClient().projects.put_shares_users(project.id, [bob_id], "read")
    with civis_env(monkeypatch, served.url, bob_key):
        assert [p.id for p in civis.APIClient().projects.list()] == [project.id]
    with civis_env(monkeypatch, served.url, carol_key):
        carol = civis.APIClient()
        assert carol.projects.list() == []
        with pytest.raises(civis.base.CivisAPIError) as err:
            carol.projects.get(project.id)
        assert err.value.status_code == 404

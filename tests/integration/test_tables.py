"""Tables of a database: `GET /databases/{id}/schemas/{s}/tables/{t}` (404 when absent) and
`GET /tables?database_id&schema&name`, with stable ids, and the public client's get_table_id."""

from __future__ import annotations

import civis
import httpx
import pytest

from tests.conftest import LiveServer
from tests.workers import settings, worker

__all__ = ["settings", "worker"]


def _db(c: httpx.Client) -> int:
    return int(next(d["id"] for d in c.get("/databases").json() if d["managed"]))


def _run(c: httpx.Client, sql: str) -> None:
    from tests.integration.test_queries import wait_query

    r = c.post("/queries", json={"database": _db(c), "sql": sql, "preview_rows": 0})
    assert r.status_code == 200, r.text
    assert wait_query(c, r.json()["id"])["state"] == "succeeded"


def test_table_details_and_list(live: LiveServer, worker: object, admin: httpx.Client) -> None:
    db = _db(admin)
    _run(
        admin,
        "CREATE TABLE public.sales (id INTEGER, amount DOUBLE, sold DATE, who VARCHAR);"
        "CREATE VIEW public.big_sales AS SELECT * FROM public.sales WHERE amount > 10",
    )
    r = admin.get(f"/databases/{db}/schemas/public/tables/sales")
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["schema"] == "public" and t["name"] == "sales" and t["databaseId"] == db
    assert t["isView"] is False and t["columnCount"] == 4
    assert [(c["name"], c["civisDataType"], c["order"]) for c in t["columns"]] == [
        ("id", "integer", 1),
        ("amount", "float", 2),
        ("sold", "date", 3),
        ("who", "string", 4),
    ]
    assert t["columns"][0]["sqlType"] == "INTEGER"
    again = admin.get(f"/databases/{db}/schemas/public/tables/sales").json()
    assert again["id"] == t["id"]
    r = admin.get(f"/databases/{db}/schemas/public/tables/nope")
    assert r.status_code == 404 and "public.nope" in r.json()["errorDescription"]
    assert admin.get("/databases/9999/schemas/public/tables/sales").status_code == 404
    listed = admin.get(
        "/tables", params={"database_id": db, "schema": "public", "order_dir": "asc"}
    ).json()
    assert [(x["name"], x["isView"]) for x in listed] == [("big_sales", True), ("sales", False)]
    one = admin.get("/tables", params={"database_id": db, "schema": "public", "name": "sales"})
    assert [x["id"] for x in one.json()] == [t["id"]]
    assert admin.get("/tables").status_code == 400


def test_public_client_get_table_id(
    live: LiveServer, worker: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    with live.client(live.admin_key) as c:
        _run(c, "CREATE TABLE public.things (x INTEGER)")
        expected = c.get(f"/databases/{_db(c)}/schemas/public/tables/things").json()["id"]
    client = civis.APIClient(api_key=live.admin_key)
    assert client.get_table_id("public.things", "civica") == expected

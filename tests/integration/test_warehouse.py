"""The warehouse layer on its own: DuckDB always, PostgreSQL when CIVICA_TEST_POSTGRES_URL is set
(in a fresh database made for the test)."""

from __future__ import annotations

import csv
import gzip
import io
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from civica.warehouse import CsvFormat, Interrupted, Warehouse, WarehouseError, open_warehouse
from civica.warehouse.sqltext import first_keyword, is_copyable_query, split_statements
from tests.conftest import PG_ENV


def test_split_statements_respects_quotes_comments_and_dollar_bodies() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE "a;b" (x text);  /* block ; comment /* nested; */ */
    INSERT INTO "a;b" VALUES ('it''s; fine'), (E'back\\'slash;');
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
    SELECT $$;$$, x FROM "a;b";
    ;  -- only a comment
    """
    parts = split_statements(sql)
    assert len(parts) == 4
    assert [first_keyword(p) for p in parts] == ["create", "insert", "create", "select"]
    assert parts[1].endswith("(E'back\\'slash;')") and parts[2].endswith("LANGUAGE sql")
    assert parts[3].startswith("SELECT $$;$$")
    assert split_statements("  -- nothing\n ; ") == []
    assert is_copyable_query("/* x */ ( WITH a AS (SELECT 1) SELECT * FROM a)")
    assert is_copyable_query("from t") and not is_copyable_query("insert into t values (1)")


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
        with open_warehouse(url) as w:
            w.ensure_schema("public")
            yield w
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL warehouse variant skipped: set {PG_ENV} to run it")
    name = f"civica_wh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with open_warehouse(make_url(base).set(database=name).render_as_string(False)) as w:
            yield w
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SETUP = """
CREATE TABLE people (id integer, name text, note text);
INSERT INTO public.people VALUES (1, 'ann', 'a,b'), (2, 'bob', NULL), (3, 'cy', 'say "hi"');
"""


def _read(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data).decode()
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return z.read(z.namelist()[0]).decode()
    return data.decode()


def test_run_previews_the_last_statement_as_text(wh: Warehouse) -> None:
    preview = wh.run(SETUP + "SELECT id, name, note FROM people ORDER BY id", preview_rows=2)
    assert preview.statements == 3
    assert [c.name for c in preview.columns] == ["id", "name", "note"]
    assert preview.rows == [["1", "ann", "a,b"], ["2", "bob", None]]
    assert wh.run("CREATE TABLE public.empty (x int)").columns == []
    assert wh.run("SELECT count(*) AS n FROM people").rows == [["3"]]


def test_errors_carry_the_engine_message(wh: Warehouse) -> None:
    with pytest.raises(WarehouseError) as err:
        wh.run("SELECT 1; SELECT * FROM no_such_table")
    assert "no_such_table" in str(err.value) and "statement 2 of 2" in str(err.value)
    with pytest.raises(WarehouseError, match="no statements"):
        wh.run(" -- nothing ")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (CsvFormat(), 'id,name,note\n1,ann,"a,b"\n2,bob,\n3,cy,"say ""hi"""\n'),
        (
            CsvFormat(header=False, delimiter="|", compression="none"),
            '1|ann|a,b\n2|bob|\n3|cy|"say ""hi"""\n',
        ),
        (
            CsvFormat(delimiter="\t", compression="zip"),
            'id\tname\tnote\n1\tann\ta,b\n2\tbob\t\n3\tcy\t"say ""hi"""\n',
        ),
    ],
)
def test_export_formats(wh: Warehouse, tmp_path: Path, fmt: CsvFormat, expected: str) -> None:
    wh.run(SETUP)
    out = tmp_path / "out"
    out.mkdir()
    export = wh.export("SELECT * FROM people ORDER BY id;", out, "res", fmt)
    assert export.rows == 3 and [c.name for c in export.columns] == ["id", "name", "note"]
    assert len(export.files) == 1 and export.files[0].name == f"res{fmt.extension}"
    assert _read(export.files[0]) == expected


def test_export_unquoted_multifile_and_preview(wh: Warehouse, tmp_path: Path) -> None:
    wh.run(
        "CREATE TABLE nums AS SELECT g AS n, 'v' || g AS label "
        "FROM generate_series(1, 300000) AS s(g)"
    )
    export = wh.export(
        "SELECT n, label FROM nums ORDER BY n",
        tmp_path,
        "part",
        CsvFormat(compression="gzip", max_part_bytes=1_000_000),
        preview_rows=3,
    )
    assert len(export.files) >= 2
    assert export.preview == [["1", "v1"], ["2", "v2"], ["3", "v3"]]
    rows: list[list[str]] = []
    for path in export.files:
        part = list(csv.reader(io.StringIO(_read(path))))
        assert part[0] == ["n", "label"]  # every part has the header
        rows += part[1:]
    assert len(rows) == 300000 and rows[0] == ["1", "v1"]
    plain = wh.export("SELECT 'a' AS x", tmp_path, "u", CsvFormat(quoted=False, compression="none"))
    assert _read(plain.files[0]) == "x\na\n"


def test_export_of_a_statement_without_rows_writes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    export = wh.export("CREATE TABLE t2 (x int)", tmp_path, "none", CsvFormat())
    assert export.files == [] and export.columns == []


def test_interrupt_and_timeout_stop_a_long_statement(wh: Warehouse) -> None:
    long = (
        "SELECT count(*) FROM range(100000000000) AS a(x)"
        if "duckdb" in wh.display_url
        else "SELECT pg_sleep(30)"
    )
    threading.Timer(0.5, wh.interrupt).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        wh.run(long)
    assert time.monotonic() - started < 10
    started = time.monotonic()
    with pytest.raises(WarehouseError):
        wh.run(long, timeout=0.5)
    assert time.monotonic() - started < 10
    assert wh.run("SELECT 1 AS one").rows == [["1"]]  # usable again


def test_describe_and_list_tables(wh: Warehouse) -> None:
    wh.run(SETUP)
    info = wh.describe_table("public", "people")
    assert info is not None and not info.is_view
    assert [(c.name, c.order) for c in info.columns] == [("id", 1), ("name", 2), ("note", 3)]
    assert "int" in info.columns[0].sql_type.lower()
    assert wh.describe_table("public", "nope") is None
    assert [t.name for t in wh.list_tables("public")] == ["people"]
    assert [t.name for t in wh.list_tables(name="people")] == ["people"]


def test_duckdb_public_schema_is_first_on_the_search_path(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'p.duckdb'}"
    with open_warehouse(url) as w:
        w.ensure_schema("public")
        w.run("CREATE TABLE t AS SELECT 42 AS x")
        assert w.run("SELECT x FROM public.t").rows == [["42"]]
    with open_warehouse(url) as w2:  # another session sees the same shared database
        assert w2.run("SELECT x FROM t").rows == [["42"]]


def test_load_csv_with_each_existing_table_rows_policy(wh: Warehouse, tmp_path: Path) -> None:
    wh.run(SETUP)
    export = wh.export(
        "SELECT * FROM people ORDER BY id", tmp_path, "people", CsvFormat(compression="none")
    )
    info = wh.describe_table("public", "people")
    assert info is not None
    path = export.files[0]
    assert wh.load_csv(path, "copies", "people", info.columns) == 3
    rows = wh.run("SELECT id, name, note FROM copies.people ORDER BY id").rows
    assert rows == [["1", "ann", "a,b"], ["2", "bob", None], ["3", "cy", 'say "hi"']]
    with pytest.raises(WarehouseError, match="already exists"):
        wh.load_csv(path, "copies", "people", info.columns)
    wh.load_csv(path, "copies", "people", info.columns, "append")
    assert wh.run("SELECT count(*) FROM copies.people").rows == [["6"]]
    wh.load_csv(path, "copies", "people", info.columns, "truncate")
    assert wh.run("SELECT count(*) FROM copies.people").rows == [["3"]]
    wh.load_csv(path, "copies", "people", info.columns[:2] + info.columns[2:], "drop")
    assert wh.run("SELECT count(*) FROM copies.people").rows == [["3"]]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,note\nnot-a-number,x,y\n")
    with pytest.raises(WarehouseError):
        wh.load_csv(bad, "copies", "people", info.columns, "truncate")
    assert wh.run("SELECT count(*) FROM copies.people").rows == [["3"]]  # rolled back


def test_duckdb_sql_cannot_reach_the_servers_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    with open_warehouse(f"duckdb:///{tmp_path / 'sealed.duckdb'}") as w:
        for sql in (
            f"SELECT * FROM read_text('{secret}')",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
            f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
        ):
            with pytest.raises(WarehouseError):
                w.run(sql)
        assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()
        # civica's own exports still work (they go through the scratch folder).
        export = w.export("SELECT 1 AS a", tmp_path, "ok", CsvFormat(compression="none"))
        assert export.files == [tmp_path / "ok.csv"] and export.files[0].read_text() == "a\n1\n"

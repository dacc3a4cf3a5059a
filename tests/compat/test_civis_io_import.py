"""The public `civis` client's upload helpers against civica, unmodified: dataframe_to_civis,
csv_to_civis and civis_file_to_table (file upload, `POST /files/preprocess/csv` runs, then
`POST /imports/files/csv` and its run), read back with read_civis, on the embedded DuckDB and
(when CIVICA_TEST_POSTGRES_URL is set) on a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import civis
import pandas as pd
import pytest
from civis.base import CivisJobFailure

from tests.compat.test_civis_sql import FAST, client, database, pg_warehouse
from tests.workers import settings, worker

__all__ = ["client", "database", "pg_warehouse", "settings", "worker"]


def _read(client: civis.APIClient, database: str, table: str) -> pd.DataFrame:
    df = civis.io.read_civis(table, database, return_as="pandas", client=client, **FAST)
    assert isinstance(df, pd.DataFrame)
    return df


def test_dataframe_to_civis_then_read_back(client: civis.APIClient, database: str) -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["ann", None, 'say "hi", bye'],
            "score": [1.5, 2.25, None],
            "ok": [True, False, True],
            "day": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04"]).date,
        }
    )
    fut = civis.io.dataframe_to_civis(df, database, "public.people", client=client, **FAST)
    assert fut.result()["state"] == "succeeded"
    back = _read(client, database, "public.people").sort_values("id").reset_index(drop=True)
    assert list(back.columns) == ["id", "name", "score", "ok", "day"]
    assert back["id"].tolist() == [1, 2, 3]
    assert back["name"].tolist()[0] == "ann" and back["name"].tolist()[2] == 'say "hi", bye'
    assert pd.isna(back["name"][1]) and pd.isna(back["score"][2])
    assert back["score"].tolist()[:2] == [1.5, 2.25]
    # PostgreSQL's CSV (like Redshift's) writes booleans as t and f.
    assert [str(v).lower()[0] for v in back["ok"]] == ["t", "f", "t"]
    assert [str(d) for d in back["day"]] == ["2024-01-02", "2024-02-03", "2024-03-04"]
    # The table exists: the default refuses, append adds, drop replaces.
    with pytest.raises(CivisJobFailure, match="already exists"):
        civis.io.dataframe_to_civis(df, database, "public.people", client=client, **FAST).result()
    civis.io.dataframe_to_civis(
        df, database, "public.people", client=client, existing_table_rows="append", **FAST
    ).result()
    assert len(_read(client, database, "public.people")) == 6
    small = pd.DataFrame({"x": ["a"]})
    civis.io.dataframe_to_civis(
        small, database, "public.people", client=client, existing_table_rows="drop", **FAST
    ).result()
    assert _read(client, database, "public.people")["x"].tolist() == ["a"]


def test_csv_to_civis_with_a_tab_delimiter(
    client: civis.APIClient, database: str, tmp_path: Path
) -> None:
    path = tmp_path / "cities.tsv"
    path.write_text("city\tpop\nZürich\t421878\nKöln\t1084831\n", encoding="utf-8")
    fut = civis.io.csv_to_civis(
        str(path), database, "public.cities", client=client, delimiter="\t", headers=True,
        **FAST,
    )  # fmt: skip
    assert fut.result()["state"] == "succeeded"
    back = _read(client, database, "public.cities").sort_values("pop")
    assert back.values.tolist() == [["Zürich", 421878], ["Köln", 1084831]]


def test_civis_file_to_table_with_many_files_and_given_columns(
    client: civis.APIClient, database: str, tmp_path: Path
) -> None:
    ids = []
    for n, text in enumerate(["a,b\n1,x\n2,y\n", "a,b\n3,z\n"]):
        path = tmp_path / f"part{n}.csv"
        path.write_text(text)
        ids.append(civis.io.file_to_civis(str(path), path.name, client=client))
    fut = civis.io.civis_file_to_table(ids, database, "public.parts", client=client, **FAST)
    assert fut.result()["state"] == "succeeded"
    assert _read(client, database, "public.parts").sort_values("a").values.tolist() == [
        [1, "x"], [2, "y"], [3, "z"]
    ]  # fmt: skip
    columns = [{"name": "a", "sql_type": "VARCHAR(10)"}, {"name": "b", "sql_type": "VARCHAR"}]
    fut = civis.io.civis_file_to_table(
        ids[1], database, "public.typed", client=client, table_columns=columns, **FAST
    )
    assert fut.result()["state"] == "succeeded"
    table = client.databases.get_schemas_tables(client.get_database_id(database), "public", "typed")
    first, second = [c["sql_type"].lower().split("(")[0] for c in table["columns"]]
    assert first in ("varchar", "character varying") and second in ("varchar", "text")

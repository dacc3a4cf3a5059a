"""Runs of queries and SQL scripts, inside the worker (not as a subprocess).

The warehouse layer does the work: statements go to the database on the job owner's behalf
(its credential, else the owner's own login for that database), results leave through the
engine's bulk export into files of the object store, which become the run's outputs. Cancelling
a run interrupts the statement in progress (DuckDB `interrupt()`, PostgreSQL's cancel request);
CIVICA_MAX_RUN_SECONDS, when set, is the statements' time limit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from civica.db.models import JobRow, RemoteHostRow, RunOutputRow, RunRow
from civica.execution.params import CREDENTIAL_TYPES, effective_script
from civica.services.errors import BadRequest, ServiceError
from civica.services.sql import (
    CsvSettings,
    csv_settings,
    file_row,
    manifest,
    param_values,
    render_sql,
    resolve_credential,
    store_file,
)
from civica.warehouse import Export, Interrupted, Preview, WarehouseError, open_warehouse

if TYPE_CHECKING:
    from civica.execution.runner import Runner

log = logging.getLogger("civica.execution")
EMBEDDED_SCHEMAS = ("public",)


@dataclass
class Plan:
    """What one SQL run does, read in one transaction before any statement runs."""

    kind: str
    job_id: int
    owner_id: int
    sql: str
    url: URL
    username: str | None
    password: str | None
    database_name: str
    embedded: bool
    preview_rows: int = 0
    export: CsvSettings | None = None
    stem: str = ""
    secrets: list[str] = field(default_factory=list)


def _database(session: Any, config: dict[str, Any]) -> RemoteHostRow:
    from civica.services.databases import load_database

    database_id = config.get("remote_host_id") or config.get("database")
    if not database_id:
        raise BadRequest("this job names no database: set remote_host_id")
    return load_database(session, int(database_id))


def _plan(runner: Runner) -> Plan | None:
    from civica.services.credentials import login_for_database
    from civica.services.databases import stored_url

    platform = runner.platform
    with platform.transaction() as session:
        claim = runner.claimed(session)
        if claim is None:
            return None
        job, actor = claim.job, claim.actor
        script = effective_script(session, job)
        config = script.config
        database = _database(session, config)
        credential_id = resolve_credential(session, actor, database, config.get("credential_id"))
        username, password = login_for_database(
            session=session,
            actor=actor,
            secrets=platform.secrets,
            database=database,
            credential_id=credential_id,
        )
        secrets = [password] if password else []
        logins: dict[str, tuple[str, str]] = {}
        for param in script.params:
            if param.get("type") in CREDENTIAL_TYPES:
                from civica.execution.params import _credential

                name = str(param.get("name"))
                value = param_values([param], script.arguments).get(name)
                if value not in (None, ""):
                    login = _credential(session, platform.secrets, actor, name, value)
                    logins[name] = login
                    if login[1]:
                        secrets.append(login[1])
        sql = render_sql(
            str(config.get("sql") or ""), param_values(script.params, script.arguments), logins
        )
        plan = Plan(
            kind=script.kind,
            job_id=job.id,
            owner_id=job.owner_id,
            sql=sql,
            url=stored_url(platform.secrets, database),
            username=username,
            password=password,
            database_name=database.name,
            embedded=database.is_embedded,
            secrets=secrets,
        )
        if script.kind == "query":
            plan.preview_rows = int(config.get("preview_rows") or 0)
            if config.get("csv"):
                plan.export = csv_settings(config.get("csv_settings"))
            plan.stem = (config.get("csv_settings") or {}).get("filename_prefix") or (
                f"query_{job.id}_run_{runner.run_id}"
            )
        else:
            plan.export = csv_settings(config.get("csv_settings"))
            plan.stem = plan.export.filename_prefix or f"sql_script_{job.id}_run_{runner.run_id}"
        return plan


def execute_sql_run(runner: Runner, workdir: Path) -> str:
    try:
        plan = _plan(runner)
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    if plan is None:
        return ""
    try:
        wh = open_warehouse(plan.url, plan.username, plan.password)
    except WarehouseError as exc:
        return runner._end("failed", str(exc), None)
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.is_set():
            if runner.control.cancel.wait(0.1):
                reason = {
                    "shutdown": "the worker is shutting down",
                    "lost": "the run was ended elsewhere",
                }.get(runner.control.reason, "the run was cancelled")
                wh.interrupt()
                log.info("run %s: interrupted (%s)", runner.run_id, reason)
                return

    watcher = threading.Thread(target=watch, name=f"civica-sql-{runner.run_id}", daemon=True)
    watcher.start()
    timeout = runner.platform.settings.max_run_seconds or None
    try:
        with wh:
            if plan.embedded:
                for schema in EMBEDDED_SCHEMAS:
                    wh.ensure_schema(schema)
            workdir.mkdir(parents=True, exist_ok=True)
            if plan.export is None:
                preview = wh.run(plan.sql, preview_rows=plan.preview_rows, timeout=timeout)
                _finish_preview(runner, plan, preview)
            else:
                export = wh.export(
                    plan.sql,
                    workdir,
                    plan.stem,
                    plan.export.csv_format(),
                    timeout=timeout,
                    preview_rows=plan.preview_rows,
                )
                _finish_export(runner, plan, export)
    except Interrupted as exc:
        if runner.control.cancel.is_set():
            outcome = runner._stopped_outcome()
            return runner._end(outcome[0], outcome[1], None)
        return runner._end("failed", _masked(str(exc), plan), None)
    except WarehouseError as exc:
        if plan.kind == "query":
            _record_result(runner, plan, None, _masked(str(exc), plan))
        return runner._end("failed", _masked(str(exc), plan), None)
    finally:
        stop_watch.set()
    if runner.control.cancel.is_set():
        outcome = runner._stopped_outcome()
        return runner._end(outcome[0], outcome[1], None)
    return runner._end("succeeded", None, None)


def _masked(message: str, plan: Plan) -> str:
    for secret in plan.secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "********")
    return message


def _connected(plan: Plan) -> str:
    who = f" as {plan.username}" if plan.username else ""
    return f"Connected to database {plan.database_name}{who}."


def _record_result(
    runner: Runner,
    plan: Plan,
    preview: Preview | None,
    error: str | None,
    rows: Any = None,
    notes: tuple[str, ...] = (),
) -> None:
    """Keep the query's newest result (preview rows as text, or its error) on the query, with
    the run's log lines, in one transaction."""
    with runner.platform.transaction() as session:
        for note in notes:
            runner.log(note, session=session)
        job = session.get(JobRow, plan.job_id)
        if job is None:
            return
        config = dict(job.config or {})
        config["result"] = {
            "run_id": runner.run_id,
            "columns": [c.name for c in preview.columns] if preview else [],
            "types": [c.sql_type for c in preview.columns] if preview else [],
            "rows": rows if rows is not None else (preview.rows if preview else []),
            "exception": error,
        }
        job.config = config


def _finish_preview(runner: Runner, plan: Plan, preview: Preview) -> None:
    notes = (
        _connected(plan),
        f"Ran {preview.statements} statement(s); the last returned "
        + (f"{len(preview.columns)} column(s)." if preview.columns else "no rows."),
    )
    if plan.kind == "query":
        _record_result(runner, plan, preview, None, notes=notes)
    else:
        with runner.platform.transaction() as session:
            for note in notes:
                runner.log(note, session=session)


def _finish_export(runner: Runner, plan: Plan, export: Export) -> None:
    assert plan.export is not None
    settings = plan.export
    platform = runner.platform
    from civica.execution.runner import api_url

    base = api_url(platform) or ""
    if not export.files:
        notes = (
            _connected(plan),
            f"Ran {export.statements} statement(s); the last returned no rows to export.",
        )
        if plan.kind == "query":
            _record_result(
                runner, plan, Preview(columns=export.columns), None, export.preview, notes
            )
        else:
            with platform.transaction() as session:
                for note in notes:
                    runner.log(note, session=session)
        return
    stored = [(p.name, *store_file(platform, plan.owner_id, p, p.name, base)) for p in export.files]
    with platform.transaction() as session:
        rows = [
            file_row(session, platform, plan.owner_id, key, size, name)
            for name, key, size in stored
        ]
        outputs = list(rows)
        if settings.multifile:
            from civica.services.sql import download_link

            entries = [
                {
                    "id": r.id,
                    "name": r.name,
                    "size": r.size,
                    "url": f"{base}files/{r.id}",
                    "url_signed": download_link(platform, r, base),
                }
                for r in rows
            ]
            header = [c.name for c in export.columns] if settings.include_header else None
            path = Path(export.files[0]).with_name(f"{plan.stem}_manifest.json")
            path.write_bytes(manifest(plan.sql, header, entries, settings))
            key, size = store_file(platform, plan.owner_id, path, path.name, base)
            outputs.insert(0, file_row(session, platform, plan.owner_id, key, size, path.name))
        for row in outputs:
            session.add(
                RunOutputRow(
                    run_id=runner.run_id, object_type="File", object_id=row.id, name=row.name
                )
            )
    count = f"{export.rows} row(s)" if export.rows is not None else "the rows"
    runner.log(
        f"Ran {export.statements} statement(s); exported {count} to "
        + ", ".join(f"file {r.id} ({r.name})" for r in rows)
        + ".",
    )
    if plan.kind == "query":
        _record_result(runner, plan, Preview(columns=export.columns), None, export.preview)


# --- imports: Dbsync between two databases -------------------------------------------------------


@dataclass
class Endpoint:
    url: URL
    username: str | None
    password: str | None
    name: str
    embedded: bool


@dataclass
class SyncPlan:
    source_sql: str
    source_label: str
    schema: str
    table: str
    existing: str
    verify: bool


def _endpoint(session: Any, runner: Runner, actor: Any, raw: dict[str, Any]) -> Endpoint:
    from civica.services.credentials import login_for_database
    from civica.services.databases import load_database, stored_url

    database = load_database(session, int(raw.get("remote_host_id") or 0))
    username, password = login_for_database(
        session=session,
        actor=actor,
        secrets=runner.platform.secrets,
        database=database,
        credential_id=resolve_credential(session, actor, database, raw.get("credential_id")),
    )
    return Endpoint(
        url=stored_url(runner.platform.secrets, database),
        username=username,
        password=password,
        name=database.name,
        embedded=database.is_embedded,
    )


def _import_plan(runner: Runner) -> tuple[Endpoint, Endpoint, list[SyncPlan]] | None:
    from civica.services.imports import parse_table_path
    from civica.warehouse.sqltext import quote_ident

    with runner.platform.transaction() as session:
        claim = runner.claimed(session)
        if claim is None:
            return None
        job, actor = claim.job, claim.actor
        config = dict(job.config or {})
        source = _endpoint(session, runner, actor, config.get("source") or {})
        destination = _endpoint(session, runner, actor, config.get("destination") or {})
        syncs = []
        for sync in config.get("syncs") or []:
            options = sync.get("advanced_options") or {}
            schema, table = parse_table_path(sync.get("destination"), "destination.path")
            if options.get("sql_query"):
                source_sql, label = str(options["sql_query"]), "the sync's sql_query"
            else:
                s_schema, s_table = parse_table_path(sync.get("source"), "source.path")
                source_sql = f"SELECT * FROM {quote_ident(s_schema)}.{quote_ident(s_table)}"
                label = f"{s_schema}.{s_table}"
            existing = options.get("existing_table_rows") or "fail"
            if options.get("wipe_destination_table"):
                existing = "drop"
            syncs.append(
                SyncPlan(
                    source_sql=source_sql,
                    source_label=label,
                    schema=schema,
                    table=table,
                    existing=existing,
                    verify=bool(options.get("verify_table_row_counts")),
                )
            )
        if not syncs:
            raise BadRequest("this import has no syncs; add one with POST /imports/{id}/syncs")
        return source, destination, syncs


def _is_file_import(runner: Runner) -> bool:
    from civica.execution.csv_import import is_file_import

    with runner.platform.transaction() as session:
        run = session.get(RunRow, runner.run_id)
        job = session.get(JobRow, run.job_id) if run is not None else None
        return job is not None and is_file_import(job)


def execute_import_run(runner: Runner, workdir: Path) -> str:
    from civica.warehouse import CsvFormat

    if _is_file_import(runner):
        from civica.execution.csv_import import execute_file_import

        return execute_file_import(runner, workdir)
    try:
        plan = _import_plan(runner)
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    if plan is None:
        return ""
    source, destination, syncs = plan
    secrets = [p for p in (source.password, destination.password) if p and len(p) >= 4]

    def masked(message: str) -> str:
        for secret in secrets:
            message = message.replace(secret, "********")
        return message

    timeout = runner.platform.settings.max_run_seconds or None
    workdir.mkdir(parents=True, exist_ok=True)
    current: list[Any] = []
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.is_set():
            if runner.control.cancel.wait(0.1):
                for wh in list(current):
                    wh.interrupt()
                return

    threading.Thread(target=watch, name=f"civica-import-{runner.run_id}", daemon=True).start()
    try:
        for number, sync in enumerate(syncs, 1):
            with open_warehouse(source.url, source.username, source.password) as src:
                current[:] = [src]
                if source.embedded:
                    src.ensure_schema("public")
                export = src.export(
                    sync.source_sql,
                    workdir,
                    f"sync_{number}",
                    CsvFormat(header=True, compression="none"),
                    timeout=timeout,
                )
            if not export.files:
                raise WarehouseError(f"{sync.source_label} returned no rows to sync")
            from civica.warehouse import TableColumn

            columns = [
                TableColumn(name=c.name, sql_type=c.sql_type, order=i)
                for i, c in enumerate(export.columns, 1)
            ]
            with open_warehouse(destination.url, destination.username, destination.password) as dst:
                current[:] = [dst]
                loaded = dst.load_csv(
                    export.files[0],
                    sync.schema,
                    sync.table,
                    columns,
                    sync.existing,
                    timeout=timeout,
                )
            export.files[0].unlink(missing_ok=True)
            if sync.verify and export.rows is not None and loaded < export.rows:
                raise WarehouseError(
                    f"{sync.schema}.{sync.table} received {loaded} rows of {export.rows}"
                )
            runner.log(
                f"Synced {loaded} row(s) from {source.name} {sync.source_label} to "
                f"{destination.name} {sync.schema}.{sync.table}.",
            )
    except Interrupted as exc:
        if runner.control.cancel.is_set():
            outcome = runner._stopped_outcome()
            return runner._end(outcome[0], outcome[1], None)
        return runner._end("failed", masked(str(exc)), None)
    except WarehouseError as exc:
        return runner._end("failed", masked(str(exc)), None)
    finally:
        stop_watch.set()
    return runner._end("succeeded", None, None)

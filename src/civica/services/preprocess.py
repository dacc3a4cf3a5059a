"""CSV preprocess jobs (`POST /files/preprocess/csv`): a job whose run reads a file, detects its
compression, delimiter, header row and column types (civica.warehouse.detect) into the file's
`detectedInfo`, and makes a UTF-8 copy of it (unless `in_place`). The public client's
`civis_file_to_table` runs one per file before it imports them (civica.execution.csv_import
does the work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from civica.db.models import JobRow, PreprocessCsvRow
from civica.schemas.preprocess import PreprocessCsv, PreprocessCsvCreate
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB_TYPES
from civica.services.permissions import Level, load
from civica.warehouse.base import DELIMITERS

JOB_TYPES.setdefault("preprocess_csv", "JobTypes::CsvPreprocess")


def _view(row: JobRow) -> PreprocessCsv:
    config = row.config or {}
    return PreprocessCsv(
        id=row.id,
        file_id=int(config["file_id"]),
        in_place=bool(config.get("in_place")),
        detect_table_columns=bool(config.get("detect_table_columns")),
        force_character_set_conversion=bool(config.get("force_character_set_conversion")),
        include_header=config.get("include_header"),
        column_delimiter=config.get("column_delimiter"),
        hidden=row.hidden,
    )


def create_preprocess(
    *, session: Session, actor: Actor, body: PreprocessCsvCreate
) -> PreprocessCsv:
    from civica.services.files import FILE

    try:
        load(session, actor, FILE, body.file_id, Level.READ)
    except NotFound:
        raise BadRequest(
            f"file_id {body.file_id} is not a file you can read; upload it with POST /files"
        ) from None
    if body.column_delimiter is not None and body.column_delimiter not in DELIMITERS:
        raise BadRequest(
            f'column_delimiter must be "comma", "tab" or "pipe"; got {body.column_delimiter!r}'
        )
    row = PreprocessCsvRow(
        owner_id=actor.user_id,
        type=JOB_TYPES["preprocess_csv"],
        name=f"Preprocess CSV file {body.file_id}",
        hidden=bool(body.hidden),
        config={
            "file_id": body.file_id,
            "in_place": True if body.in_place is None else body.in_place,
            "detect_table_columns": (
                True if body.detect_table_columns is None else body.detect_table_columns
            ),
            "force_character_set_conversion": bool(body.force_character_set_conversion),
            "include_header": body.include_header,
            "column_delimiter": body.column_delimiter,
        },
    )
    session.add(row)
    session.flush()
    return _view(row)

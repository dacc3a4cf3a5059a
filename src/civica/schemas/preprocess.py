"""CSV preprocess jobs (`/files/preprocess/csv`): what the public client's `civis_file_to_table`
sends and reads. Field order is the Civis spec's (file_id is positional)."""

from __future__ import annotations

from pydantic import Field

from civica.schemas.common import In, Out

FILE_ID = "The ID of the file."
IN_PLACE = (
    "If true, the file's own detectedInfo is filled in; if false, a UTF-8 copy of the file is "
    "made as a new file, with the detectedInfo. Defaults to true."
)
DETECT = "If true, detect the table columns in the file, with SQL types. Defaults to true."
FORCE = (
    "If true, the copy is always UTF-8: a file that is not valid UTF-8 is read as Windows-1252 "
    "and converted. If false, such a file fails the run. Defaults to false."
)
HEADER = "Whether the first row is a header row. Detected when not given."
DELIMITER = 'The column delimiter: "comma", "tab" or "pipe". Detected when not given.'


class PreprocessCsvCreate(In):
    file_id: int = Field(description=FILE_ID)
    in_place: bool | None = Field(default=None, description=IN_PLACE)
    detect_table_columns: bool | None = Field(default=None, description=DETECT)
    force_character_set_conversion: bool | None = Field(default=None, description=FORCE)
    include_header: bool | None = Field(default=None, description=HEADER)
    column_delimiter: str | None = Field(default=None, description=DELIMITER)
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class PreprocessCsv(Out):
    id: int = Field(description="The ID of the job created.")
    file_id: int = Field(description=FILE_ID)
    in_place: bool = Field(description=IN_PLACE)
    detect_table_columns: bool = Field(description=DETECT)
    force_character_set_conversion: bool = Field(description=FORCE)
    include_header: bool | None = Field(default=None, description=HEADER)
    column_delimiter: str | None = Field(default=None, description=DELIMITER)
    hidden: bool = Field(description="The hidden status of the item.")

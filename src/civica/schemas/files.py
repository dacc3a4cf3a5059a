"""Files: an upload is started with the API, the bytes travel through the URLs it returns."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from pydantic import Field, field_validator

from civica.schemas.common import In, Out, UserBlock

NAME_DOC = "The file name."
EXPIRES_DOC = (
    "The date and time the file will expire. If not specified, the file will expire in 30 days. "
    "To keep a file indefinitely, specify null."
)
DESCRIPTION_DOC = "The user-defined description of the file."
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 512
MAX_PARTS = 10_000


def check_file_name(value: str) -> str:
    """A file name is a base name: no folders, no control characters, at most 255 characters."""
    if not value or not value.strip():
        raise ValueError("a file needs a name, e.g. data.csv")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(
            f"is {len(value)} characters long; use at most {MAX_NAME_CHARS}, e.g. data.csv"
        )
    if "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError("must be a base name without '/' or '\\' (no folders), e.g. data.csv")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise ValueError(
            "must not contain control characters (such as NUL or a newline); e.g. data.csv"
        )
    return value


class FileCreate(In):
    name: str = Field(description=NAME_DOC)
    expires_at: datetime | None = Field(default=None, description=EXPIRES_DOC)
    description: str | None = Field(
        default=None, description=DESCRIPTION_DOC, max_length=MAX_DESCRIPTION_CHARS
    )

    _name = field_validator("name")(check_file_name)


class FileMultipartCreate(In):
    name: str = Field(description=NAME_DOC)
    num_parts: int = Field(
        description="The number of parts in which the file will be uploaded. This parameter "
        "determines the number of presigned URLs that are returned.",
        ge=1,
        le=MAX_PARTS,
    )
    expires_at: datetime | None = Field(default=None, description=EXPIRES_DOC)
    description: str | None = Field(
        default=None, description=DESCRIPTION_DOC, max_length=MAX_DESCRIPTION_CHARS
    )

    _name = field_validator("name")(check_file_name)


class FileUploadBase(Out):
    id: int = Field(description="The ID of the file.")
    name: str = Field(description=NAME_DOC)
    created_at: datetime = Field(description="The date and time the file was created.")
    file_size: int | None = Field(description="The file size.")
    expires_at: datetime | None = Field(description=EXPIRES_DOC)
    description: str | None = Field(description=DESCRIPTION_DOC)


class FilePost(FileUploadBase):
    upload_url: str = Field(
        description="The URL that may be used to upload a file. To use the upload URL, initiate "
        'a POST request to the given URL with the file you wish to import as the "file" form '
        "field."
    )
    upload_fields: dict[str, str] = Field(
        description="A hash containing the form fields to be included with the POST request."
    )
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class FileMultipartPost(FileUploadBase):
    upload_urls: list[str] = Field(
        description="An array of URLs that may be used to upload file parts. Use separate PUT "
        "requests to complete the part uploads. Then complete the upload with "
        "POST /files/multipart/{id}/complete."
    )


class FileTableColumn(Out):
    name: str | None = Field(default=None, description="The column name.")
    sql_type: str | None = Field(default=None, description="The column's SQL type.")


class FileDetectedInfo(Out):
    include_header: bool | None = Field(
        default=None,
        description="A boolean value indicating whether or not the first row of the file is a "
        "header row.",
    )
    column_delimiter: str | None = Field(
        default=None,
        description='The column delimiter for the file. One of "comma", "tab", or "pipe".',
    )
    compression: str | None = Field(
        default=None, description='The type of compression of the file. One of "gzip", or "none".'
    )
    table_columns: list[FileTableColumn] | None = Field(
        default=None,
        description="An array of hashes corresponding to the columns in the file. Each hash "
        'should have keys for column "name" and "sql_type"',
    )


class File(Out):
    id: int = Field(description="The ID of the file.")
    name: str = Field(description=NAME_DOC)
    created_at: datetime = Field(description="The date and time the file was created.")
    updated_at: datetime = Field(description="The date and time the file was last updated.")
    file_size: int | None = Field(description="The file size.")
    expires_at: datetime | None = Field(description=EXPIRES_DOC)
    description: str | None = Field(description=DESCRIPTION_DOC)
    author: UserBlock = Field(description="The author/owner of the item.")
    download_url: str | None = Field(
        description="A URL that downloads the file under its name (Content-Disposition: "
        "attachment); null while the file cannot be read (see state)."
    )
    file_url: str | None = Field(
        description="The URL that may be used to download the file; null while the file cannot "
        "be read (see state and stateDescription)."
    )
    detected_info: FileDetectedInfo = Field(
        description="A hash corresponding to the information detected if the file was "
        'preprocessed by the "/files/preprocess/csv" endpoint.'
    )
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )
    state: str = Field(
        description='"pending" (upload not finished), "uploaded" (readable), "failed" (the '
        'upload was refused) or "expired" (past expiresAt; the contents were removed).'
    )
    state_description: str | None = Field(
        description="Why the file cannot be read, when it cannot; null when it can."
    )

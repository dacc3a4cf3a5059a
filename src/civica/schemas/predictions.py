"""Predictions (`/predictions`): a model's active build applied to a table, written to an
output table by each run (docs/models.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, Out
from civica.schemas.jobs import RunBrief
from civica.schemas.scripts import Schedule, ScheduleIn

P = {
    "id": "The ID of the prediction.",
    "model_id": "The ID of the model used for this prediction.",
    "scored_table_id": "The ID of the source table for this prediction.",
    "scored_table_name": "The name of the source table for this prediction.",
    "output_table_name": "The name of the output table for this prediction.",
    "state": "The state of the last run of this prediction.",
    "error": "The error, if any, of the last run of this prediction.",
    "started_at": "The start time of the last run of this prediction.",
    "finished_at": "The end time of the last run of this prediction.",
    "limiting_sql": "A SQL WHERE clause used to scope the rows to be predicted.",
    "primary_key": "The primary key or composite keys of the table being predicted.",
    "score_on_model_build": "Whether the prediction will run after a rebuild of the associated "
    "model.",
}


class ScoreStat(Out):
    score_name: str = Field(description="The name of the score.")
    histogram: list[int] = Field(description="The histogram of the distribution of scores.")
    avg_score: float | None = Field(default=None, description="The average score.")
    min_score: float | None = Field(default=None, description="The minimum score.")
    max_score: float | None = Field(default=None, description="The maximum score.")


class ScoredTable(Out):
    id: int | None = Field(
        default=None, description="The ID of the table with created predictions."
    )
    schema_: str = Field(
        alias="schema", description="The schema of table with created predictions."
    )
    name: str = Field(description="The name of table with created predictions.")
    created_at: datetime = Field(
        description="The time when the table with created predictions was created."
    )
    score_stats: list[ScoreStat] = Field(
        description="An array of metrics on the created predictions."
    )


class PredictionSummary(Out):
    id: int = Field(description=P["id"])
    model_id: int = Field(description=P["model_id"])
    scored_table_id: int | None = Field(default=None, description=P["scored_table_id"])
    scored_table_name: str = Field(description=P["scored_table_name"])
    output_table_name: str = Field(description=P["output_table_name"])
    state: str = Field(description=P["state"])
    error: str | None = Field(default=None, description=P["error"])
    started_at: datetime | None = Field(default=None, description=P["started_at"])
    finished_at: datetime | None = Field(default=None, description=P["finished_at"])
    last_run: RunBrief | None = None


class Prediction(PredictionSummary):
    """`GET /predictions/{id}`."""

    scored_tables: list[ScoredTable] = Field(description="An array of created prediction tables.")
    schedule: Schedule
    limiting_sql: str | None = Field(default=None, description=P["limiting_sql"])
    primary_key: list[str] = Field(description=P["primary_key"])


class PredictionUpdate(In):
    output_table_name: str | None = Field(default=None, description=P["output_table_name"])
    limiting_sql: str | None = Field(default=None, description=P["limiting_sql"])
    primary_key: list[str] | None = Field(default=None, description=P["primary_key"])


class PredictionRun(Out):
    """A run of a prediction (`/predictions/{id}/runs/{run_id}`)."""

    id: int = Field(description="The ID of the prediction run.")
    prediction_id: int = Field(description=P["id"])
    state: str = Field(description="The state of the prediction run.")
    exception: str | None = Field(
        default=None, description="The exception, if any, returned by the prediction run."
    )
    name: str | None = Field(
        default=None, description="The name of table created by this predictions run."
    )
    created_at: datetime | None = Field(
        default=None, description="The time when the table with created predictions was created."
    )
    score_stats: list[ScoreStat] = Field(
        description="An array of metrics on the created predictions."
    )


class PredictionScheduleIn(In):
    schedule: ScheduleIn | None = None
    score_on_model_build: bool | None = Field(default=None, description=P["score_on_model_build"])


class PredictionSchedule(Out):
    id: int = Field(description="ID of the prediction associated with this schedule.")
    schedule: Schedule
    score_on_model_build: bool = Field(description=P["score_on_model_build"])

"""Models (`/models`): a training table, the column to predict and a model type; builds fit
it (docs/models.md). Field order is the seed's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from civica.schemas.common import In, Out, UserBlock
from civica.schemas.jobs import RunBrief
from civica.schemas.scripts import Notifications, NotificationsIn, Schedule, ScheduleIn

M = {
    "id": "The ID of the model.",
    "table_name": "The qualified name of the table containing the training set from which to "
    "build the model.",
    "database_id": "The ID of the database holding the training set table used to build the model.",
    "credential_id": "The ID of the credential used to read the target table. Defaults to the "
    "user\u2019s default credential.",
    "model_name": "The name of the model.",
    "description": "A description of the model.",
    "interaction_terms": "Whether to search for interaction terms.",
    "box_cox_transformation": "Whether to transform data so that it assumes a normal "
    "distribution. Valid only with continuous models.",
    "model_type_id": "The ID of the model\u2019s type.",
    "primary_key": "The unique ID (primary key) of the training dataset.",
    "dependent_variable": "The dependent variable of the training dataset.",
    "dependent_variable_order": "The order of dependent variables, especially useful for "
    "Ordinal Modeling.",
    "excluded_columns": "A list of columns which will be considered ineligible to be "
    "independent variables.",
    "limiting_sql": "A custom SQL WHERE clause used to filter the rows used to build the model. "
    "(e.g., \u201cid > 105\u201d).",
    "active_build_id": "The ID of the current active build, the build used to score predictions.",
    "cross_validation_parameters": "Cross validation parameter grid for tree methods, e.g. "
    '{"n_estimators": [100, 200, 500], "learning_rate": [0.01, 0.1], "max_depth": [2, 3]}.',
    "number_of_folds": "Number of folds for cross validation. Default value is 5.",
    "parent_id": "The ID of the parent job that will trigger this model.",
    "time_zone": "The time zone of this model.",
    "hidden": "The hidden status of the object. Setting this to true hides it from most API "
    "endpoints. The object can still be queried directly by ID",
    "current_build_state": "The status of the current model build. One of \u201csucceeded\u201d, "
    "\u201cfailed\u201d, \u201cqueued\u201d, or \u201crunning,\u201dor \u201cidle\u201d, "
    "if no build has been attempted.",
    "current_build_exception": "Exception message, if applicable, of the current model build.",
    "rmse": "A key metric for continuous models. Nil for other model types.",
    "r2": "A key metric for continuous models. Nil for other model types.",
    "roc_auc": "A key metric for binary, multinomial, and ordinal models. Nil for other model "
    "types.",
}


class _ModelFields(In):
    """What a model is made of; every field optional (a create may be completed later, before
    a build)."""

    table_name: str | None = Field(default=None, description=M["table_name"])
    database_id: int | None = Field(default=None, description=M["database_id"])
    credential_id: int | None = Field(default=None, description=M["credential_id"])
    model_name: str | None = Field(default=None, description=M["model_name"])
    description: str | None = Field(default=None, description=M["description"])
    interaction_terms: bool | None = Field(default=None, description=M["interaction_terms"])
    box_cox_transformation: bool | None = Field(
        default=None, description=M["box_cox_transformation"]
    )
    model_type_id: int | None = Field(default=None, description=M["model_type_id"])
    primary_key: str | None = Field(default=None, description=M["primary_key"])
    dependent_variable: str | None = Field(default=None, description=M["dependent_variable"])
    dependent_variable_order: list[str] | None = Field(
        default=None, description=M["dependent_variable_order"]
    )
    excluded_columns: list[str] | None = Field(default=None, description=M["excluded_columns"])
    limiting_sql: str | None = Field(default=None, description=M["limiting_sql"])
    active_build_id: int | None = Field(default=None, description=M["active_build_id"])
    cross_validation_parameters: dict[str, Any] | None = Field(
        default=None, description=M["cross_validation_parameters"]
    )
    number_of_folds: int | None = Field(default=None, description=M["number_of_folds"])
    notifications: NotificationsIn | None = None
    schedule: ScheduleIn | None = None
    parent_id: int | None = Field(default=None, description=M["parent_id"])
    time_zone: str | None = Field(default=None, description=M["time_zone"])


class ModelCreate(_ModelFields):
    hidden: bool | None = Field(default=None, description=M["hidden"])


class ModelUpdate(_ModelFields):
    pass


class ModelType(Out):
    """One entry of `GET /models/types`."""

    id: int = Field(description="The ID of the model type.")
    algorithm: str = Field(description="The name of the algorithm used to train the model.")
    dv_type: str = Field(description="The type of dependent variable predicted by the model.")
    fint_allowed: bool = Field(
        description="Whether this model type supports searching for interaction terms."
    )


class BuildBrief(Out):
    id: int = Field(description="The ID of the model build.")
    name: str | None = Field(default=None, description="The name of the model build.")
    created_at: datetime | None = Field(
        default=None, description="The time the model build was created."
    )
    description: str | None = Field(default=None, description="A description of the model build.")
    root_mean_squared_error: float | None = Field(default=None, description=M["rmse"])
    r_squared_error: float | None = Field(default=None, description=M["r2"])
    roc_auc: float | None = Field(default=None, description=M["roc_auc"])


class Build(BuildBrief):
    """A build (`/models/{id}/builds/{build_id}`): a run of the model, with its metrics."""

    state: str = Field(
        description="The state of the model build.one of \u2018queued\u2019 \u2018running\u2019 "
        "\u2018succeeded\u2019 \u2018failed\u2019 or \u2018cancelled\u2019."
    )
    error: str | None = Field(default=None, description="The error, if any, returned by the build.")
    transformation_metadata: str | None = Field(
        default=None,
        description="A string representing the full JSON output of the metadata for "
        "transformation of column names",
    )
    output: str | None = Field(
        default=None,
        description="A string representing the JSON output for the specified build. Only "
        "present when smaller than 10KB in size.",
    )
    output_location: str | None = Field(
        default=None,
        description="A URL representing the location of the full JSON output for the specified "
        "build.The URL link will be valid for 5 minutes.",
    )


class ModelPredictionBrief(Out):
    id: int = Field(description="The ID of the prediction.")
    table_name: str = Field(
        description="The qualified name of the table on which to apply the predictive model."
    )
    primary_key: list[str] = Field(
        description="The primary key or composite keys of the table being predicted."
    )
    limiting_sql: str | None = Field(
        default=None, description="A SQL WHERE clause used to scope the rows to be predicted."
    )
    output_table: str = Field(
        description="The qualified name of the table to be created which will contain the "
        "model\u2019s predictions."
    )
    schedule: Schedule
    state: str = Field(
        description='The status of the prediction. One of: "succeeded", "failed", "queued", or '
        '"running,"or "idle", if no build has been attempted.'
    )


class ModelBase(Out):
    id: int = Field(description=M["id"])
    table_name: str | None = Field(default=None, description=M["table_name"])
    database_id: int | None = Field(default=None, description=M["database_id"])
    credential_id: int | None = Field(default=None, description=M["credential_id"])
    model_name: str | None = Field(default=None, description=M["model_name"])
    description: str | None = Field(default=None, description=M["description"])
    interaction_terms: bool = Field(description=M["interaction_terms"])
    box_cox_transformation: bool = Field(description=M["box_cox_transformation"])
    model_type_id: int | None = Field(default=None, description=M["model_type_id"])
    primary_key: str | None = Field(default=None, description=M["primary_key"])
    dependent_variable: str | None = Field(default=None, description=M["dependent_variable"])
    dependent_variable_order: list[str] = Field(description=M["dependent_variable_order"])
    excluded_columns: list[str] = Field(description=M["excluded_columns"])
    limiting_sql: str | None = Field(default=None, description=M["limiting_sql"])
    cross_validation_parameters: dict[str, Any] = Field(
        description=M["cross_validation_parameters"]
    )
    number_of_folds: int = Field(description=M["number_of_folds"])
    schedule: Schedule
    parent_id: int | None = Field(default=None, description=M["parent_id"])
    time_zone: str = Field(description=M["time_zone"])
    last_run: RunBrief | None = None
    user: UserBlock
    created_at: datetime
    updated_at: datetime
    current_build_state: str = Field(description=M["current_build_state"])
    current_build_exception: str | None = Field(
        default=None, description=M["current_build_exception"]
    )
    builds: list[BuildBrief] = Field(
        description="A list of trained models available for making predictions."
    )
    predictions: list[ModelPredictionBrief] = Field(
        description="The tables upon which the model will be applied."
    )
    last_output_location: str | None = Field(
        default=None, description="The output JSON for the last build."
    )
    archived: str = Field(description="The archival status of the requested object(s).")


class ModelSummary(ModelBase):
    """One model in `GET /models`."""


class Model(ModelBase):
    """`GET /models/{id}`."""

    active_build_id: int | None = Field(default=None, description=M["active_build_id"])
    notifications: Notifications
    running_as: UserBlock
    hidden: bool = Field(description=M["hidden"])
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class ModelScheduleIn(In):
    schedule: ScheduleIn


class ModelSchedule(Out):
    id: int = Field(description="The ID of the model associated with this schedule.")
    schedule: Schedule


class ModelPredictionCreate(In):
    table_name: str = Field(
        description="The qualified name of the table on which to apply the predictive model."
    )
    primary_key: list[str] = Field(
        description="The primary key or composite keys of the table being predicted."
    )
    limiting_sql: str | None = Field(
        default=None, description="A SQL WHERE clause used to scope the rows to be predicted."
    )
    output_table: str | None = Field(
        default=None,
        description="The qualified name of the table to be created which will contain the "
        "model\u2019s predictions.",
    )
    schedule: ScheduleIn | None = None

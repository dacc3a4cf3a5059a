"""Feature preparation, cross-validated fitting and scoring, over pandas frames.

Everything here is deterministic for a given seed: folds are shuffled with it and every
seeded estimator gets it, so a build and a direct fit of the same pipeline on the same data
give the same metrics (benchmarks/models.py checks it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from civica.modeling.types import ModelType, grid_problems, model_type

TRUE_TEXT = {"true", "t", "1", "yes", "y"}
FALSE_TEXT = {"false", "f", "0", "no", "n"}
NUMBER_TYPES = ("INT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "NUMBER", "SERIAL")
HISTOGRAM_BINS = 10


class ModelInputError(Exception):
    """The data or configuration cannot make a model; the message says which and why."""


@dataclass
class Spec:
    """What to fit: the model's settings as the build reads them."""

    model_type_id: int = 0
    dependent_variable: str = ""
    primary_key: list[str] = field(default_factory=list)
    excluded_columns: list[str] = field(default_factory=list)
    number_of_folds: int = 5
    cross_validation_parameters: dict[str, list[Any]] = field(default_factory=dict)
    interaction_terms: bool = False
    box_cox_transformation: bool = False
    dependent_variable_order: list[str] = field(default_factory=list)
    seed: int = 0
    # Column name -> SQL type, as the database reported them.
    column_types: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Spec:
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    @property
    def mtype(self) -> ModelType:
        found = model_type(self.model_type_id)
        if found is None:
            raise ModelInputError(
                f"model_type_id {self.model_type_id} is not a model type; GET /models/types "
                "lists them"
            )
        return found


def sql_kind(sql_type: str) -> str:
    """number, boolean or text: how a column of this SQL type is read."""
    t = sql_type.upper()
    if t.startswith("BOOL"):
        return "boolean"
    if any(n in t for n in NUMBER_TYPES) and "[" not in t and "INTERVAL" not in t:
        return "number"
    return "text"


def read_csv(path: Path, column_types: dict[str, str]) -> pd.DataFrame:
    """A CSV export (header row, empty field for NULL) as a frame typed by its SQL types."""
    dtypes = {c: "string" for c, t in column_types.items() if sql_kind(t) != "number"}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    for column, sql_type in column_types.items():
        if column not in frame:
            continue
        kind = sql_kind(sql_type)
        if kind == "boolean":
            text = frame[column].str.lower()
            frame[column] = np.where(
                text.isin(TRUE_TEXT), 1.0, np.where(text.isin(FALSE_TEXT), 0.0, np.nan)
            )
        elif kind == "text":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _check_columns(spec: Spec, frame: pd.DataFrame) -> list[str]:
    columns = list(frame.columns)
    named = {
        "dependent_variable": [spec.dependent_variable],
        "primary_key": spec.primary_key,
        "excluded_columns": spec.excluded_columns,
    }
    for where, names in named.items():
        missing = [n for n in names if n not in columns]
        if missing:
            raise ModelInputError(
                f"{where} names {', '.join(repr(m) for m in missing)}, which the training "
                f"table does not have; its columns are {', '.join(columns)}"
            )
    skip = {spec.dependent_variable, *spec.primary_key, *spec.excluded_columns}
    features = [c for c in columns if c not in skip]
    if not features:
        raise ModelInputError(
            "no columns are left to learn from: every column is the dependent variable, the "
            "primary key or excluded; exclude fewer columns"
        )
    return features


@dataclass
class Prepared:
    x: pd.DataFrame
    y: Any
    features: list[str]
    numeric: list[str]
    categorical: list[str]
    classes: list[Any]
    dropped_rows: int


def prepare(spec: Spec, frame: pd.DataFrame) -> Prepared:
    """Check the data can make this model and split it into features and target."""
    mtype = spec.mtype
    features = _check_columns(spec, frame)
    if frame.empty:
        raise ModelInputError(
            "the training table has no rows (after limiting_sql, when set); a model needs rows"
        )
    dv = spec.dependent_variable
    present = frame[dv].notna()
    dropped = int((~present).sum())
    frame = frame[present]
    if frame.empty:
        raise ModelInputError(
            f"the dependent variable {dv!r} has no values: every training row is NULL there"
        )
    y = frame[dv]
    distinct = y.nunique()
    if distinct < 2:
        raise ModelInputError(
            f"the dependent variable {dv!r} is constant ({y.iloc[0]!r} in all {len(y)} rows): "
            "a model needs at least two different values to learn from"
        )
    classes: list[Any] = []
    k = spec.number_of_folds
    if mtype.classifier:
        if pd.api.types.is_float_dtype(y) and bool((y == y.round()).all()):
            y = y.astype("int64")  # whole numbers read as floats: classes 0 and 1, not 0.0
        if spec.dependent_variable_order:
            y = y.astype(str)
            order = [str(v) for v in spec.dependent_variable_order]
            extra = sorted(set(y) - set(order))
            if extra:
                raise ModelInputError(
                    f"the dependent variable {dv!r} has values {', '.join(extra)} that "
                    "dependent_variable_order does not list; list every value"
                )
            classes = [c for c in order if c in set(y)]
        else:
            classes = sorted(y.unique().tolist(), key=lambda v: (str(type(v)), v))
        if mtype.dv_type == "binary" and len(classes) != 2:
            raise ModelInputError(
                f"model type {mtype.id} ({mtype.algorithm}) is binary but the dependent "
                f"variable {dv!r} has {len(classes)} distinct values; choose a multinomial or "
                "continuous model type"
            )
        if mtype.dv_type == "ordinal" and not spec.dependent_variable_order:
            raise ModelInputError(
                "an ordinal model needs dependent_variable_order: the values of "
                f"{dv!r} from lowest to highest"
            )
        smallest = y.value_counts().min()
        if smallest < k:
            rare = y.value_counts().idxmin()
            raise ModelInputError(
                f"the value {rare!r} of the dependent variable {dv!r} is in {smallest} row(s), "
                f"fewer than number_of_folds ({k}): every fold needs every class. Lower "
                "number_of_folds or add rows"
            )
    else:
        if not pd.api.types.is_numeric_dtype(y):
            raise ModelInputError(
                f"model type {mtype.id} ({mtype.algorithm}) is continuous but the dependent "
                f"variable {dv!r} is not a number column; choose a binary or multinomial type"
            )
        if spec.box_cox_transformation and float(y.min()) <= 0:
            raise ModelInputError(
                f"box_cox_transformation needs a positive dependent variable, but {dv!r} has "
                f"values down to {float(y.min())}; turn it off or shift the values"
            )
    if len(y) < 2 * k:
        raise ModelInputError(
            f"the training table has {len(y)} row(s) with a dependent variable, too few for "
            f"{k} folds; add rows or lower number_of_folds (at least 2 rows per fold)"
        )
    x = frame[features]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(x[c])]
    categorical = [c for c in features if c not in numeric]
    return Prepared(x, y, features, numeric, categorical, classes, dropped)


def make_pipeline(spec: Spec, numeric: list[str], categorical: list[str]) -> Any:
    """Imputation and encoding, then the estimator (in a Box-Cox target transform if asked)."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        OneHotEncoder,
        PolynomialFeatures,
        PowerTransformer,
        StandardScaler,
    )

    mtype = spec.mtype
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if mtype.linear:
        numeric_steps.append(("scale", StandardScaler()))
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        parts.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                        ("encode", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            )
        )
    steps: list[tuple[str, Any]] = [("features", ColumnTransformer(parts))]
    if spec.interaction_terms and mtype.fint_allowed:
        steps.append(
            (
                "interactions",
                PolynomialFeatures(degree=2, interaction_only=True, include_bias=False),
            )
        )
    steps.append(("estimator", mtype.estimator(spec.seed)))
    pipeline = Pipeline(steps)
    if spec.box_cox_transformation and not mtype.classifier:
        return TransformedTargetRegressor(
            regressor=pipeline, transformer=PowerTransformer(method="box-cox")
        )
    return pipeline


def param_prefix(spec: Spec) -> str:
    boxed = spec.box_cox_transformation and not spec.mtype.classifier
    return "regressor__estimator__" if boxed else "estimator__"


def splitter(spec: Spec) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    kind = StratifiedKFold if spec.mtype.classifier else KFold
    return kind(n_splits=spec.number_of_folds, shuffle=True, random_state=spec.seed)


def scoring(spec: Spec) -> str:
    dv_type = spec.mtype.dv_type
    if dv_type == "binary":
        return "roc_auc"
    if dv_type in ("multinomial", "ordinal"):
        return "accuracy"
    return "neg_root_mean_squared_error"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def held_out_metrics(spec: Spec, prepared: Prepared, oof: Any) -> dict[str, Any]:
    """ROC AUC, accuracy and confusion matrix (classifiers) or RMSE and R² (continuous) of
    out-of-fold predictions."""
    from sklearn import metrics

    y = prepared.y
    if not spec.mtype.classifier:
        return {
            "root_mean_squared_error": _finite(math.sqrt(metrics.mean_squared_error(y, oof))),
            "r_squared_error": _finite(metrics.r2_score(y, oof)),
            "mean_absolute_error": _finite(metrics.mean_absolute_error(y, oof)),
        }
    order = sorted(prepared.classes, key=lambda v: (str(type(v)), v))  # sklearn's classes_
    classes = prepared.classes
    proba = pd.DataFrame(oof, columns=order)[classes].to_numpy()
    truth = np.asarray(y)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    if len(classes) == 2:
        positive = (truth == classes[1]).astype(int)
        auc = metrics.roc_auc_score(positive, proba[:, 1])
    else:
        auc = metrics.roc_auc_score(
            truth, proba, multi_class="ovr", average="weighted", labels=classes
        )
    matrix = metrics.confusion_matrix(truth, predicted, labels=classes)
    return {
        "roc_auc": _finite(auc),
        "accuracy": _finite(metrics.accuracy_score(truth, predicted)),
        "confusion_matrix": matrix.tolist(),
        "classes": [str(c) for c in classes],
    }


@dataclass
class Trained:
    estimator: Any
    output: dict[str, Any]


def train(spec: Spec, frame: pd.DataFrame, log: Any = print) -> Trained:
    """Search the grid with the folds, measure the best settings on held-out folds, then fit on
    every row."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_predict

    mtype = spec.mtype
    problem = grid_problems(mtype, spec.cross_validation_parameters)
    if problem:
        raise ModelInputError(problem)
    if spec.number_of_folds < 2:
        raise ModelInputError(f"number_of_folds must be at least 2; got {spec.number_of_folds}")
    prepared = prepare(spec, frame)
    log(
        f"Training {mtype.algorithm} ({mtype.dv_type}) on {len(prepared.y)} rows and "
        f"{len(prepared.features)} columns ({len(prepared.numeric)} numeric, "
        f"{len(prepared.categorical)} categorical); {prepared.dropped_rows} row(s) without a "
        "dependent variable skipped."
    )
    pipeline = make_pipeline(spec, prepared.numeric, prepared.categorical)
    folds = splitter(spec)
    best: dict[str, Any] = {}
    search: list[dict[str, Any]] = []
    if spec.cross_validation_parameters:
        prefix = param_prefix(spec)
        grid = {prefix + k: v for k, v in spec.cross_validation_parameters.items()}
        searcher = GridSearchCV(pipeline, grid, cv=folds, scoring=scoring(spec), refit=False)
        try:
            searcher.fit(prepared.x, prepared.y)
        except (ValueError, TypeError) as exc:
            raise ModelInputError(
                f"the cross-validation grid could not be searched: {exc}"
            ) from None
        best = {k[len(prefix) :]: v for k, v in searcher.best_params_.items()}
        results = searcher.cv_results_
        for i, params in enumerate(results["params"]):
            search.append(
                {
                    "params": {k[len(prefix) :]: v for k, v in params.items()},
                    "mean_score": _finite(float(results["mean_test_score"][i])),
                }
            )
        pipeline.set_params(**{prefix + k: v for k, v in best.items()})
        log(f"Grid search ({len(search)} settings, {spec.number_of_folds} folds) chose {best}.")
    method = "predict_proba" if mtype.classifier else "predict"
    oof = cross_val_predict(clone(pipeline), prepared.x, prepared.y, cv=folds, method=method)
    metrics = held_out_metrics(spec, prepared, oof)
    log(f"Held-out metrics over {spec.number_of_folds} folds: {metrics}.")
    pipeline.fit(prepared.x, prepared.y)
    output = {
        "model_type_id": mtype.id,
        "algorithm": mtype.algorithm,
        "dv_type": mtype.dv_type,
        "dependent_variable": spec.dependent_variable,
        "metrics": metrics,
        "rows": len(prepared.y),
        "skipped_rows": prepared.dropped_rows,
        "features": prepared.features,
        "numeric_features": prepared.numeric,
        "categorical_features": prepared.categorical,
        "number_of_folds": spec.number_of_folds,
        "seed": spec.seed,
        "best_parameters": best,
        "grid_search": search,
        "classes": [str(c) for c in prepared.classes],
    }
    return Trained(estimator=pipeline, output=output)


def score_columns(output: dict[str, Any]) -> list[str]:
    """The score columns a prediction writes: `score` (binary: the probability of the second
    class; continuous: the prediction), or one `score_<class>` per class."""
    if output.get("dv_type") in ("multinomial", "ordinal"):
        return [f"score_{c}" for c in output.get("classes") or []]
    return ["score"]


def score(
    estimator: Any, output: dict[str, Any], frame: pd.DataFrame, primary_key: list[str]
) -> pd.DataFrame:
    """The primary key columns of `frame` and the model's scores for each row."""
    missing = [c for c in [*primary_key, *output["features"]] if c not in frame.columns]
    if missing:
        raise ModelInputError(
            f"the table to score lacks column(s) {', '.join(missing)} that the "
            f"{'primary key' if set(missing) <= set(primary_key) else 'model'} needs; its "
            f"columns are {', '.join(frame.columns)}"
        )
    x = frame[output["features"]]
    result = frame[primary_key].copy()
    if output["dv_type"] == "continuous":
        result["score"] = estimator.predict(x)
        return result
    proba = estimator.predict_proba(x)
    known = [str(c) for c in estimator.classes_]
    classes = output.get("classes") or known
    if output["dv_type"] == "binary":
        result["score"] = proba[:, known.index(str(classes[1]))]
    else:
        for name, cls in zip(score_columns(output), classes, strict=True):
            result[name] = proba[:, known.index(str(cls))]
    return result


def score_stats(scores: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    stats: list[dict[str, Any]] = []
    for name in columns:
        values = scores[name].dropna().to_numpy(dtype=float)
        if values.size == 0:
            stats.append(
                {"score_name": name, "histogram": [], "avg_score": None, "min_score": None,
                 "max_score": None}
            )  # fmt: skip
            continue
        counts, _ = np.histogram(values, bins=HISTOGRAM_BINS)
        stats.append(
            {
                "score_name": name,
                "histogram": [int(c) for c in counts],
                "avg_score": _finite(float(values.mean())),
                "min_score": _finite(float(values.min())),
                "max_score": _finite(float(values.max())),
            }
        )
    return stats

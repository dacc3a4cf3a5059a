"""The model types civica offers (`GET /models/types`), each a scikit-learn estimator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DV_TYPES = ("binary", "multinomial", "ordinal", "continuous")


@dataclass(frozen=True)
class ModelType:
    id: int
    algorithm: str
    dv_type: str
    fint_allowed: bool
    # Where the estimator class lives and the arguments it gets; `seeded` types take random_state.
    module: str
    cls: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    seeded: bool = True
    # Linear models get scaled numeric features (and interaction terms when asked).
    linear: bool = False

    @property
    def classifier(self) -> bool:
        return self.dv_type != "continuous"

    def estimator(self, seed: int = 0) -> Any:
        import importlib

        factory: Callable[..., Any] = getattr(importlib.import_module(self.module), self.cls)
        kwargs = dict(self.kwargs)
        if self.seeded:
            kwargs["random_state"] = seed
        return factory(**kwargs)

    def parameter_names(self) -> list[str]:
        return sorted(self.estimator().get_params(deep=False))


_LIN = "sklearn.linear_model"
_ENS = "sklearn.ensemble"
MODEL_TYPES: dict[int, ModelType] = {
    t.id: t
    for t in (
        ModelType(1, "Regularized Logistic Regression", "binary", True, _LIN,
                  "LogisticRegression", (("C", 1.0), ("max_iter", 1000)), linear=True),
        ModelType(2, "Regularized Logistic Regression", "multinomial", True, _LIN,
                  "LogisticRegression", (("C", 1.0), ("max_iter", 1000)), linear=True),
        ModelType(3, "Regularized Linear Regression (Elastic Net)", "continuous", True, _LIN,
                  "ElasticNet", (("alpha", 0.001), ("l1_ratio", 0.5), ("max_iter", 5000)),
                  linear=True),
        ModelType(4, "Ridge Regression", "continuous", True, _LIN, "Ridge", (("alpha", 1.0),),
                  seeded=False, linear=True),
        ModelType(5, "Random Forest", "binary", False, _ENS, "RandomForestClassifier",
                  (("n_estimators", 100),)),
        ModelType(6, "Random Forest", "multinomial", False, _ENS, "RandomForestClassifier",
                  (("n_estimators", 100),)),
        ModelType(7, "Random Forest", "continuous", False, _ENS, "RandomForestRegressor",
                  (("n_estimators", 100),)),
        ModelType(8, "Gradient Boosting", "binary", False, _ENS, "GradientBoostingClassifier"),
        ModelType(9, "Gradient Boosting", "continuous", False, _ENS,
                  "GradientBoostingRegressor"),
        ModelType(10, "Extra Trees", "binary", False, _ENS, "ExtraTreesClassifier",
                  (("n_estimators", 100),)),
        ModelType(11, "Extra Trees", "multinomial", False, _ENS, "ExtraTreesClassifier",
                  (("n_estimators", 100),)),
        ModelType(12, "Extra Trees", "continuous", False, _ENS, "ExtraTreesRegressor",
                  (("n_estimators", 100),)),
        ModelType(13, "Regularized Logistic Regression (ordered classes)", "ordinal", True,
                  _LIN, "LogisticRegression", (("C", 1.0), ("max_iter", 1000)), linear=True),
    )
}  # fmt: skip


def model_type(type_id: int) -> ModelType | None:
    return MODEL_TYPES.get(type_id)


def grid_problems(mtype: ModelType, grid: dict[str, Any] | None) -> str | None:
    """Why `grid` (cross_validation_parameters) does not fit `mtype`, or None when it does."""
    if not grid:
        return None
    known = set(mtype.parameter_names())
    unknown = sorted(k for k in grid if k not in known)
    if unknown:
        return (
            f"cross_validation_parameters names {', '.join(unknown)}, which "
            f"{mtype.algorithm} ({mtype.cls}) does not have; its parameters are "
            f"{', '.join(sorted(known))}"
        )
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            return (
                f"cross_validation_parameters.{name} must be a non-empty list of values to "
                f"try, e.g. [100, 200]; got {values!r}"
            )
    return None

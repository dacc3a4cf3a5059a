"""The fitting and scoring process of a run: `python -m civica.modeling fit|score FOLDER`.

FOLDER holds `spec.json` and the data (`data.csv`); `fit` writes `model.joblib` and
`output.json`, `score` reads `model.joblib` and `output.json` and writes `scores.csv` and
`stats.json`. A problem with the data or settings is written to `error.txt` (the run's
error) and the process exits with 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("fit", "score"):
        print("usage: python -m civica.modeling fit|score FOLDER", file=sys.stderr)
        return 64
    import joblib

    from civica.modeling.train import (
        ModelInputError,
        Spec,
        read_csv,
        score,
        score_columns,
        score_stats,
        train,
    )

    folder = Path(argv[1])
    raw = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
    spec = Spec.from_json(raw)
    try:
        frame = read_csv(folder / "data.csv", spec.column_types)
        if argv[0] == "fit":
            trained = train(spec, frame)
            joblib.dump(trained.estimator, folder / "model.joblib")
            (folder / "output.json").write_text(json.dumps(trained.output), encoding="utf-8")
            return 0
        estimator = joblib.load(folder / "model.joblib")
        output = json.loads((folder / "output.json").read_text(encoding="utf-8"))
        scores = score(estimator, output, frame, spec.primary_key)
        # Keys go out exactly as they came in (an integer key must not become 12.0).
        import pandas as pd

        keys = pd.read_csv(
            folder / "data.csv",
            usecols=spec.primary_key,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )
        for key in spec.primary_key:
            scores[key] = keys[key].to_numpy()
        scores.to_csv(folder / "scores.csv", index=False, na_rep="")
        stats = score_stats(scores, score_columns(output))
        (folder / "stats.json").write_text(
            json.dumps({"rows": len(scores), "score_stats": stats}), encoding="utf-8"
        )
        print(f"Scored {len(scores)} rows.")
        return 0
    except ModelInputError as exc:
        (folder / "error.txt").write_text(str(exc), encoding="utf-8")
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

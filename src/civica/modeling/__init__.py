"""Model types, training and scoring on scikit-learn (docs/models.md).

`types` lists the model types; `train` prepares features, searches the cross-validation grid,
fits and scores (pure functions over pandas frames, used by the fitting subprocess and the
benchmarks); `__main__` is that subprocess (`python -m civica.modeling fit|score`); `runs`
executes build and prediction runs in the worker (warehouse reads and writes, the subprocess,
the stored estimator)."""

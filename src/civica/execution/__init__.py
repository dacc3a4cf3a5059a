"""Running jobs: the run queue in the metadata database, workers that claim runs, executors that
decide where a run goes, and the runner that executes one run (docs/execution.md)."""

"""Executors decide where runs execute; chosen by name (`CIVICA_EXECUTOR`)."""

from __future__ import annotations

from civica.execution.executors.base import Executor
from civica.platform import Platform

NAMES = ("local", "ray")


def make_executor(platform: Platform, worker_id: str) -> Executor:
    """The executor named by the settings; heavy backends would be imported here, lazily."""
    name = platform.settings.executor.strip().lower()
    if name == "local":
        from civica.execution.executors.local import LocalExecutor

        return LocalExecutor(platform, worker_id)
    if name == "ray":
        try:
            from civica.execution.executors.ray import RayExecutor
        except ImportError as exc:
            raise ValueError(
                f"CIVICA_EXECUTOR=ray needs Ray: install civica[ray] (pip install ray) ({exc})"
            ) from exc
        return RayExecutor(platform, worker_id)
    raise ValueError(f"CIVICA_EXECUTOR must be one of {', '.join(NAMES)}; got {name!r}")

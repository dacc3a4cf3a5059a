"""Schedules, parent → child chains and the scheduler loop (docs/schedules.md).

`times` computes a schedule's next slot (pure), `clock` is the time source tests control,
`leader` elects one scheduler across processes, `events` reacts to finished runs (chains and
notifications), `scheduler` is the loop itself.
"""

"""Pydantic schemas: camelCase on the wire, snake_case or camelCase accepted in requests."""

"""Errors services raise; the API layer turns them into JSON with `errorDescription`."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class BadRequest(ServiceError):
    status_code = 400
    error = "bad_request"


class NotFound(ServiceError):
    status_code = 404
    error = "not_found"


class Forbidden(ServiceError):
    status_code = 403
    error = "forbidden"


class Conflict(ServiceError):
    status_code = 409
    error = "conflict"


class Unauthorized(ServiceError):
    status_code = 401
    error = "unauthorized"

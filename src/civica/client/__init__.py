"""civica's Python client: every resource and method is built from the server's `/endpoints`.

import civica
client = civica.APIClient()  # CIVICA_API_KEY / CIVICA_API_ENDPOINT
project = client.projects.post("Demo", "A project")
client.projects.get(project.id).name
"""

from __future__ import annotations

from civica.client.api import APIClient
from civica.client.naming import method_name
from civica.client.response import APIError, APIKeyError, ListResponse, Response

__all__ = ["APIClient", "APIError", "APIKeyError", "ListResponse", "Response", "method_name"]

"""The HTTP API: FastAPI app, wire conventions, generated spec, one module per resource."""

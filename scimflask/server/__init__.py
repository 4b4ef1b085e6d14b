"""Serving scimflask over HTTP: request limits, the gunicorn worker and the development server."""

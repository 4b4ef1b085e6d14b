"""Serving scimflask over HTTP: request limits, request ids and access lines (WSGI middleware),
logging for `scimflask serve`, gunicorn (its application, logger and worker) and werkzeug's
development server."""

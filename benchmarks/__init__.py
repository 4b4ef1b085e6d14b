"""scimflask benchmarks: a runner (`python benchmarks/run.py`) that drives gunicorn over HTTP."""

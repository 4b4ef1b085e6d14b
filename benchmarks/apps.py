"""The WSGI apps the benchmarks start under gunicorn, configured from the environment.

`scim_app()` is scimflask itself (`BENCH_STORAGE_URI`, `BENCH_TOKEN`, `BENCH_TENANT`,
`BENCH_SECRET`). For the memory backend the data lives inside the worker, so the runner cannot
seed it from outside: with `BENCH_SEED_ROUTE=1` the app also answers `POST /_bench/seed`,
which seeds its own store in-process. `ceiling_app()` is the bare-Flask ceiling: one route that
returns a fixed ListResponse, so every figure can be read as a share of what Flask plus gunicorn
manage on this machine at that moment. `configured_app()` is scimflask from a whole configuration
(`BENCH_APP_CONFIG`).
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, request

from .directory import user_document, user_id

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_JSON = "application/scim+json"


def scim_app() -> Flask:
    import scimflask

    app = scimflask.create_app({
        "SCIM_STORAGE_URI": os.environ["BENCH_STORAGE_URI"],
        "SCIM_BEARER_TOKENS": (os.environ["BENCH_TOKEN"],),
        "SCIM_DEFAULT_TENANT": os.environ.get("BENCH_TENANT", "bench"),
        "SCIM_SECRET_KEY": os.environ.get("BENCH_SECRET", "bench-secret"),
        "SCIM_MAX_PAYLOAD_BYTES": 16 * 1024 * 1024,
    })
    if os.environ.get("BENCH_SEED_ROUTE") == "1":
        _add_seed_route(app)
    return app


def _add_seed_route(app: Flask) -> None:
    from .directory import seed_group, seed_users

    state = app.extensions["scim"]
    tenant = state.config["SCIM_DEFAULT_TENANT"]

    @app.post("/_bench/seed")
    def seed() -> Response:
        body = request.get_json()
        if "users" in body:
            start, stop = body["users"]
            seed_users(state, tenant, start, stop, threads=1)
        if "group" in body:
            seed_group(state, tenant, body["group"], body["members"])
        return Response(status=204)


def ceiling_app() -> Flask:
    app = Flask("scimflask-ceiling")
    document = user_document(0)
    document["id"] = user_id(0)
    document["meta"] = {"resourceType": "User", "created": "2026-01-01T00:00:00.000Z",
                        "lastModified": "2026-01-01T00:00:00.000Z", "version": 'W/"1"',
                        "location": f"http://127.0.0.1/scim/v2/Users/{user_id(0)}"}
    body = json.dumps({"schemas": [LIST_RESPONSE], "totalResults": 1, "itemsPerPage": 1,
                       "startIndex": 1, "Resources": [document]})

    @app.get("/scim/v2/Users")
    def users() -> Response:
        return Response(body, status=200, content_type=SCIM_JSON)

    return app


def configured_app() -> Flask:
    """scimflask from a whole configuration in `BENCH_APP_CONFIG` (JSON): what a benchmark that
    built its configuration itself serves (`log_served`)."""
    import scimflask

    return scimflask.create_app(json.loads(os.environ["BENCH_APP_CONFIG"]))

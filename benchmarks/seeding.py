"""Seed the directory of a running benchmark server, in-process or through the store."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import shutil
import tempfile
from pathlib import Path

from .backends import Backend


def _shared_state(backend: Backend, tenant: str):
    import scimflask

    app = scimflask.create_app({
        "SCIM_STORAGE_URI": backend.uri, "SCIM_STORAGE_OPTIONS": backend.seed_options,
        "SCIM_DEFAULT_TENANT": tenant, "SCIM_SECRET_KEY": "seed",
    })
    return app.extensions["scim"]


def _seed_users_process(backend: Backend, tenant: str, start: int, stop: int, step: int, offset: int,
                        spool: Path | None) -> None:
    from . import bulk
    from .directory import seed_users

    state = _shared_state(backend, tenant)
    in_bulk = bulk.is_bulk(state.storage)
    # Interleaved blocks of 500 so both processes work on the whole range at once.
    for block in range(start + offset * 500, stop, step * 500):
        if in_bulk:
            bulk.seed_users(state, tenant, block, min(stop, block + 500), spool)
        else:
            seed_users(state, tenant, block, min(stop, block + 500), threads=backend.seed_threads)
    if in_bulk:
        bulk.finish(state)
    state.close()


def _seed_group_process(backend: Backend, tenant: str, name: str, members: int) -> None:
    from .directory import seed_group

    state = _shared_state(backend, tenant)
    seed_group(state, tenant, name, members)
    state.close()


SEED_CHUNK = 50_000  # users per seed request to an in-process (memory://) server


def _post_seed(port: int, body: dict) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", "/_bench/seed", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 204:
        raise RuntimeError(f"seed route answered {response.status}")


def seed_users(backend: Backend, port: int, tenant: str, start: int, stop: int) -> None:
    """Create users `start .. stop-1`."""
    if start >= stop:
        return
    if backend.in_process:
        # In chunks: one request for 900,000 users outlived the client's timeout (a 1M run).
        for chunk in range(start, stop, SEED_CHUNK):
            _post_seed(port, {"users": [chunk, min(chunk + SEED_CHUNK, stop)]})
        return
    from . import bulk

    spool = None
    if backend.name == "mysql" and stop - start > bulk.SPOOL_TRIGRAMS_ABOVE:
        spool = Path(tempfile.mkdtemp(prefix="scimflask-trigrams-"))
    try:
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=_seed_users_process,
                                     args=(backend, tenant, start, stop, backend.seed_processes, offset, spool))
                     for offset in range(backend.seed_processes)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            if process.exitcode != 0:
                raise RuntimeError(f"a seeding process failed with exit code {process.exitcode}")
        if spool is not None:
            state = _shared_state(backend, tenant)
            try:
                bulk.load_spooled_trigrams(state, spool)
            finally:
                state.close()
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)


def seed_group(backend: Backend, port: int, tenant: str, name: str, members: int) -> str:
    """Create group `name` holding users `0 .. members-1`; return its id."""
    from .directory import group_id

    if backend.in_process:
        _post_seed(port, {"group": name, "members": members})
        return group_id(name)
    process = multiprocessing.get_context("fork").Process(
        target=_seed_group_process, args=(backend, tenant, name, members))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"seeding group {name!r} failed with exit code {process.exitcode}")
    return group_id(name)

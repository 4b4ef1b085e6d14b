"""Load without loss (CI size): 8 Entra-like clients against 4 gunicorn workers, then the
backend is checked directly (see harness.py and verify.py for what "lost" means)."""

from __future__ import annotations

import os

from .harness import run_load

LOAD_SECONDS = float(os.environ.get("SCIMFLASK_LOAD_SECONDS", "20"))


def test_load_loses_nothing_and_never_answers_5xx(storage_url, tmp_path, report):
    result = run_load(storage_url, seconds=LOAD_SECONDS, clients=8, workers=4, log_dir=tmp_path)
    figures = result.figures
    report(figures.line())
    assert figures.acknowledged_writes > 100, "the load hardly wrote anything: the run proves nothing"
    assert figures.server_errors == 0, [
        (e.method, e.path, e.status) for e in result.ledger.exchanges if e.status and e.status >= 500][:20]
    assert [e for e in result.ledger.exchanges if e.status is None] == []
    assert figures.lost == 0, figures.problems[:20]
    assert figures.problems == []
    assert figures.verified_writes == figures.acknowledged_writes

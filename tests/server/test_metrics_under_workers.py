"""Metrics under several gunicorn workers add up: one scrape shows the whole server."""

from __future__ import annotations

import re

import requests

from .serving import Serve

REQUESTS = 100
SCRAPES = 10
SAMPLE = re.compile(r"^scim_requests_total\{[^}]*\} (\S+)$", re.MULTILINE)


def requests_total(exposition: str) -> float:
    return sum(float(value) for value in SAMPLE.findall(exposition))


def metrics_dirs(directory) -> list:
    # gunicorn's workers keep short-lived files of their own in the temp dir too.
    return [path for path in directory.iterdir() if path.name.startswith("scimflask-metrics-")]


def test_every_scrape_counts_every_workers_requests(tmp_path):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    server = Serve(tmp_path, "--workers", "2", "--storage", f"sqlite:///{tmp_path / 'scim.db'}",
                   SCIM_METRICS_ENABLED="1", TMPDIR=str(private_tmp))
    try:
        server.start()
        assert server.worker_count(2) == 2
        # serve's private multiprocess directory, in the temp dir it was given.
        assert len(metrics_dirs(private_tmp)) == 1
        for _ in range(REQUESTS):
            assert server.scim("GET", "/Users?count=1").status_code == 200
        totals = []
        for _ in range(SCRAPES):
            scrape = requests.get(f"{server.url}/metrics", headers={"Connection": "close"}, timeout=10)
            assert scrape.status_code == 200
            totals.append(requests_total(scrape.text))
        assert min(totals) >= REQUESTS, totals
    finally:
        server.stop()
    assert metrics_dirs(private_tmp) == [], "serve removes its metrics directory when it stops"

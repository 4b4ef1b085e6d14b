"""A real Chromium, driven by Selenium through Debian's chromedriver, against a real server.

Without Chromium, chromedriver or the selenium package the browser tests skip and say what is
missing; with SCIMFLASK_REQUIRE_BROWSER=1 (CI sets it) they fail instead. When a browser test
fails, a screenshot and the page's HTML are saved to SCIMFLASK_ARTIFACTS (a new temporary
directory when unset) and the paths are printed with the failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.ops.test_console_support import console_app

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
REQUIRED = os.environ.get("SCIMFLASK_REQUIRE_BROWSER") == "1"


def _missing() -> tuple[str | None, str | None, str]:
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    problems = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("the selenium package is not installed (pip install selenium)")
    if browser is None:
        problems.append("no Chromium found (apt-get install chromium)")
    if driver is None:
        problems.append("no chromedriver found (apt-get install chromium-driver)")
    return browser, driver, "; ".join(problems)


@pytest.fixture
def driver(request):
    browser, chromedriver, missing = _missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"SCIMFLASK_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,900", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-default-apps", "--disable-domain-reliability",
                     # Only the test server is reachable.
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    request.node.browser_driver = chrome
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def live_server():
    """The console's app served over HTTP on a free port of 127.0.0.1, in a thread."""
    app = console_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join()


def artifacts_dir() -> Path:
    configured = os.environ.get("SCIMFLASK_ARTIFACTS")
    path = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="scimflask-browser-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    chrome = getattr(item, "browser_driver", None)
    if chrome is None or report.when != "call" or not report.failed:
        return
    folder = artifacts_dir()
    shot = folder / f"{item.name}.png"
    html = folder / f"{item.name}.html"
    try:
        chrome.save_screenshot(str(shot))
        html.write_text(chrome.page_source)
        report.sections.append(("browser artifacts", f"screenshot: {shot}\npage: {html}\nurl: {chrome.current_url}"))
    except Exception as error:  # the browser may be what failed
        report.sections.append(("browser artifacts", f"could not save a screenshot to {folder}: {error}"))

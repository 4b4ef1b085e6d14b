"""An operator's session in a real browser, against a real server: sign in, enable a tenant,
watch its identity provider's requests arrive (one of them failing), read the failure, rotate
and revoke tokens, disable the tenant, sign out.

Set SCIMFLASK_CONSOLE_SCREENSHOTS to a folder (docs/console) to save the pages shown in the
README there.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from tests.ops.test_console_support import ADMIN_TOKEN, CONSOLE, USER_SCHEMA

try:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the `driver` fixture skips, or fails under SCIMFLASK_REQUIRE_BROWSER=1, and says why
    pass

# How long a condition may take to become true in the browser (the live tail polls every 5 s).
PATIENCE = 30


def scim(base_url: str, token: str, method: str, path: str, body: dict | None = None) -> int:
    """The status of a SCIM request sent as an identity provider sends it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("SCIMFLASK_CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


class Console:
    """The few gestures the test repeats, in the operator's terms."""

    def __init__(self, driver, server: str) -> None:
        self.driver = driver
        self.server = server
        # The live tail replaces rows while the test reads them.
        self.wait = WebDriverWait(driver, PATIENCE, ignored_exceptions=(StaleElementReferenceException,))

    def open(self, path: str) -> None:
        self.driver.get(self.server + CONSOLE + path)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "main").text

    def heading(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def click(self, text: str) -> None:
        """Follow the link or press the button whose visible text starts with `text`."""
        for element in self.driver.find_elements(By.CSS_SELECTOR, "main a, main button, header button"):
            if element.is_displayed() and element.text.strip().startswith(text):
                element.click()
                return
        raise AssertionError(f"no link or button {text!r} on {self.driver.current_url}")

    def value(self, field_id: str) -> str:
        return self.driver.find_element(By.ID, field_id).get_attribute("value")

    def log_rows(self) -> list[str]:
        return [row.text for row in self.driver.find_elements(By.CSS_SELECTOR, "#log-rows tr")]


def test_an_operator_session(driver, live_server):
    server, app = live_server
    console = Console(driver, server)

    # Sign in by keyboard alone: the token field has the focus, Enter sends the form.
    console.open("/")
    assert console.heading() == "Sign in"
    assert driver.switch_to.active_element.get_attribute("id") == "token"
    driver.switch_to.active_element.send_keys(ADMIN_TOKEN, Keys.ENTER)
    console.wait.until(seen.title_contains("Tenants"))

    # Enable SCIM for a tenant: the Tenant URL and the secret, shown once, with copy buttons.
    driver.find_element(By.ID, "new-tenant").send_keys("acme")
    console.click("Enable SCIM")
    console.wait.until(seen.visibility_of_element_located((By.ID, "secret-token")))
    tenant_url = console.value("tenant-url")
    secret = console.value("secret-token")
    assert tenant_url == server + "/scim/v2" and secret.startswith("scim_")
    copy = driver.find_element(By.CSS_SELECTOR, 'button[data-copy="secret-token"]')
    assert copy.is_displayed()  # the script ran under the CSP
    copy.click()
    console.wait.until(lambda _: copy.text == "Copied" or driver.find_element(By.ID, "announce").text)
    screenshot(driver, "new-token")
    console.click("Back to tenant acme")
    assert secret not in driver.page_source

    # Watch the identity provider's requests arrive in the log, the failure among them.
    console.click("Provisioning log")
    tail = driver.find_element(By.ID, "tail-toggle")
    assert tail.is_displayed()
    tail.click()
    assert scim(tenant_url, secret, "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "ada@example.com"}) == 201
    assert scim(tenant_url, secret, "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "ada@example.com"}) == 409
    console.wait.until(lambda _: len(console.log_rows()) == 2)
    newest, first = console.log_rows()
    assert "409" in newest and "failed" in newest and "201" in first and "ada@example.com" in first
    assert "failure" in driver.find_element(By.CSS_SELECTOR, "#log-rows tr").get_attribute("class")

    # Only the failures, and the failed request's detail.
    tail.click()
    driver.find_element(By.ID, "f-outcome").click()
    driver.find_element(By.ID, "f-text").send_keys("ada@", Keys.ENTER)
    console.wait.until(lambda _: "outcome=failure" in driver.current_url)
    rows = console.log_rows()
    assert len(rows) == 1 and "409" in rows[0]
    screenshot(driver, "log-failures")
    console.click("Details")
    assert "409" in console.heading()
    assert "This request failed" in console.text() and "uniqueness" in console.text()

    # Rotate (after confirming): a new secret that works, once more shown only here.
    console.click("Overview")
    console.click("Rotate tokens")
    assert "Rotate tokens" in console.heading()
    console.click("Rotate tokens")
    console.wait.until(seen.visibility_of_element_located((By.ID, "secret-token")))
    rotated = console.value("secret-token")
    rotated_id = driver.find_element(By.ID, "token-id").text
    assert rotated != secret and scim(tenant_url, rotated, "GET", "/Users") == 200

    # Revoke the new token: its next request is refused.
    console.click("Back to tenant acme")
    driver.find_element(By.CSS_SELECTOR, f'tr[data-token-id="{rotated_id}"] a').click()
    assert rotated_id in console.heading()
    console.click("Revoke")
    console.wait.until(lambda _: "The token was revoked." in console.text())
    assert rotated_id not in console.text()
    assert scim(tenant_url, rotated, "GET", "/Users") == 401

    # The tenant is failing (a 409 in the last hour); disabled, it says so, and refuses requests.
    console.open("/tenants")
    health = driver.find_element(By.CSS_SELECTOR, '[data-health="acme"]')
    assert health.text.startswith("failing")
    screenshot(driver, "tenants")
    console.open("/tenants/acme/activity")
    assert "2 requests and 1 failure" in console.text()
    screenshot(driver, "activity")
    console.open("/tenants/acme")
    console.click("Disable")
    console.click("Disable")
    console.wait.until(lambda _: "The tenant is disabled" in console.text())
    assert scim(tenant_url, secret, "GET", "/Users") == 403
    console.open("/tenants")
    assert driver.find_element(By.CSS_SELECTOR, '[data-health="acme"]').text.startswith("disabled")

    # Sign out: the console is closed until the next sign-in.
    console.click("Sign out")
    console.wait.until(seen.title_contains("Sign in"))
    assert "You have signed out." in console.text()
    console.open("/tenants")
    assert console.heading() == "Sign in"

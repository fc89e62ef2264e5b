"""A real browser for the portal's tests: Debian's Chromium, headless, driven by Playwright
(in a process of its own, see remote_browser.py).

The services and the gateway run in the test process (tests/conftest.py); the browser talks to
the gateway and to Keycloak over HTTP like any user's. Screenshots go to
var/test-output/screenshots/ (gitignored), one per named step.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-output" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def base() -> str:
    from tests.conftest import GATEWAY_ADDRESS

    return f"http://{GATEWAY_ADDRESS}"


@pytest.fixture(scope="session")
def browser():
    from tests.e2e.remote_browser import RemoteBrowser

    remote = RemoteBrowser(CHROMIUM)
    yield remote.browser
    remote.close()


class Screens:
    """Screenshots named after the test and the step."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^\w-]", "_", test_name)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, page, step: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{step}.png"), full_page=True)


@pytest.fixture
def screens(request) -> Screens:
    return Screens(request.node.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.call_failed = report.failed


@pytest.fixture
def new_page(browser, request, screens):
    """A page in a fresh browser context (its own cookies): `new_page(phone=True)`. A failed
    test leaves a screenshot of each of its pages as they were."""
    contexts, pages = [], []

    def make(phone: bool = False):
        context = browser.new_context(viewport=PHONE if phone else None, locale="ru-RU")
        context.set_default_timeout(15_000)
        contexts.append(context)
        pages.append(context.new_page())
        return pages[-1]

    yield make
    if getattr(request.node, "call_failed", False):
        for n, page in enumerate(pages):
            screens.shot(page, f"failed-{n}")
            (SCREENSHOTS / f"{screens.prefix}-failed-{n}.html").write_text(page.content())
    for context in contexts:
        context.close()


def sign_in(page, username: str, password: str) -> None:
    """Through Keycloak's own login page, as a person does."""
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")
    page.wait_for_url(re.compile(r"^http://[^/]+:\d+/(?!realms/)"))

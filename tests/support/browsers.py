"""A headless Chromium for the browser tests, driven by Playwright for Python: Debian's
chromium (PARLEY_TEST_CHROMIUM, default /usr/bin/chromium, which `make install-test`
installs), not a browser build Playwright would download. Missing Playwright or Chromium
skips those tests, or fails them with CI=true (tests/support/environment.py)."""

import os
from contextlib import contextmanager
from pathlib import Path

from tests.support.environment import unavailable

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as missing:  # the [test] extra is not installed
    expect = sync_playwright = None
    PLAYWRIGHT_MISSING = missing
else:
    PLAYWRIGHT_MISSING = None

CHROMIUM = Path(os.environ.get("PARLEY_TEST_CHROMIUM", "/usr/bin/chromium"))


@contextmanager
def chromium():
    """A headless Chromium, closed after."""
    if PLAYWRIGHT_MISSING is not None:
        unavailable("Playwright (pip install -e '.[test]')", PLAYWRIGHT_MISSING)
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium at {CHROMIUM}",
                    FileNotFoundError("not installed: `make install-test` installs it"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()

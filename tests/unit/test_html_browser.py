"""report.html in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, through selenium) at a desktop's width and a phone's, scripting on and
off, asserting on the rendered page rather than on its text.

Nothing leaves the machine: the page loads from a file and has no external asset (its CSP
forbids any), Chromium's background services are switched off and every host name it might
resolve maps to nowhere; selenium talks to chromedriver on loopback only. Screenshots of both
widths are written to the test's tmp dir, and also to ``$SMTPCHECK_SCREENSHOT_DIR`` if set.

A 1,000-host page (``bench/html_report.py``'s fleet) is loaded too: it must load in a few
seconds and its filter must work over every line.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bench.html_report import build as build_fleet
from smtpcheck.reports.html_report import render_html
from tests.unit.test_html_report import sample_result

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if os.environ.get("CI") and (CHROMIUM is None or DRIVER is None):  # never skipped in CI
    pytest.fail("CI lacks chromium/chromedriver: scripts/setup installs them", pytrace=False)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (scripts/setup installs them)",
)

DESKTOP, PHONE = (1280, 900), (414, 896)  # a laptop, and an iPhone XR's CSS pixels
QUIET = (  # no update checks, metrics, safe-browsing lists, DNS prefetch or first-run pages
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad", "--no-first-run",
    "--no-default-browser-check", "--no-pings", "--metrics-recording-only",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--mute-audio",
)  # fmt: skip


def _browser(*, script: bool) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in QUIET:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not script:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    service = Service(executable_path=str(DRIVER), log_output=subprocess.DEVNULL)
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(sample_result()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fleet_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "report.html"
    path.write_text(render_html(build_fleet(1000)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = _browser(script=True)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: webdriver.Chrome, page: Path, size: tuple[int, int]) -> None:
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get(page.as_uri())


def _js(driver: webdriver.Chrome, expression: str) -> Any:
    return driver.execute_script(f"return {expression};")


def _screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the first screen."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                  "scale": 1}},
    )  # fmt: skip
    path.write_bytes(base64.b64decode(shot["data"]))
    keep = os.environ.get("SMTPCHECK_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def _shown(driver: webdriver.Chrome, status: str) -> list[bool]:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#findings [data-status="{status}"]')
    assert rows
    return [row.is_displayed() for row in rows]


def _no_console_errors(driver: webdriver.Chrome) -> None:
    """A CSP refusal (a hash that does not match the style or script) is logged here."""
    log = driver.get_log("browser")  # type: ignore[no-untyped-call]  # selenium leaves it untyped
    errors = [entry for entry in log if entry["level"] == "SEVERE"]
    assert errors == []


def test_problems_come_first_then_matrices_then_all_findings(
    browser: webdriver.Chrome, page: Path
) -> None:
    _open(browser, page, DESKTOP)

    top = {
        name: _js(browser, f"document.getElementById('{name}').getBoundingClientRect().top")
        for name in ("verdict", "scope", "problems", "changes", "matrices", "findings")
    }
    assert top["verdict"] == top["scope"]  # side by side on a desktop
    assert top["scope"] < top["problems"] < top["changes"] < top["matrices"] < top["findings"]
    first = browser.find_element(By.CSS_SELECTOR, "#problems li.problem")
    assert "critical" in first.text.lower() and "Remediation:" in first.text
    _no_console_errors(browser)


def test_the_filter_hides_passes_and_shows_them_again(
    browser: webdriver.Chrome, page: Path
) -> None:
    _open(browser, page, DESKTOP)
    box = browser.find_element(By.CSS_SELECTOR, '#filter input[value="pass"]')
    assert box.is_displayed()  # the script shows the filter it drives
    assert all(_shown(browser, "pass")) and all(_shown(browser, "fail"))

    box.click()
    assert not any(_shown(browser, "pass"))
    assert all(_shown(browser, "fail")) and all(_shown(browser, "warn"))

    box.click()
    assert all(_shown(browser, "pass"))
    _no_console_errors(browser)


def test_desktop_and_phone_have_no_horizontal_page_scroll(
    browser: webdriver.Chrome, page: Path, tmp_path: Path
) -> None:
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        _open(browser, page, size)

        assert _js(browser, "window.innerWidth") == size[0]
        assert _js(browser, "document.documentElement.scrollWidth <= window.innerWidth"), name
        # wide tables scroll inside their own box, which stays within the page
        widths = _js(browser, "[...document.querySelectorAll('.scroll')].map("
                     "d => d.getBoundingClientRect().right)")  # fmt: skip
        assert widths and max(widths) <= size[0]
        _screenshot(browser, tmp_path / f"html-{name}.png")
    assert _js(browser, "document.getElementById('verdict').getBoundingClientRect().top") < _js(
        browser, "document.getElementById('scope').getBoundingClientRect().top"
    )  # stacked on a phone
    box = "document.querySelector('#matrices .scroll')"
    inner, outer = _js(browser, f"[{box}.scrollWidth, {box}.clientWidth]")
    assert inner > outer  # the host matrix is wider than a phone: it scrolls inside itself
    assert _js(browser, "performance.getEntriesByType('resource').length") == 0
    assert (tmp_path / "html-phone.png").stat().st_size > 10_000


def test_readable_with_scripting_off(page: Path) -> None:
    driver = _browser(script=False)
    try:
        _open(driver, page, PHONE)

        assert all(_shown(driver, "pass")) and all(_shown(driver, "skip"))
        assert not driver.find_element(By.ID, "filter").is_displayed()  # no dead control
        problems = driver.find_elements(By.CSS_SELECTOR, "#problems li.problem")
        assert len(problems) == 7 and all(p.is_displayed() for p in problems)
        assert _js_off_width(driver) <= PHONE[0]
    finally:
        driver.quit()


def _js_off_width(driver: webdriver.Chrome) -> int:
    """The page's width without running page script (CDP evaluates outside the page's CSP
    and its scripting setting)."""
    answer = driver.execute_cdp_cmd(
        "Runtime.evaluate", {"expression": "document.documentElement.scrollWidth"}
    )
    return int(answer["result"]["value"])


def test_a_1000_host_page_loads_quickly_and_its_filter_works(
    browser: webdriver.Chrome, fleet_page: Path
) -> None:
    started = time.perf_counter()
    _open(browser, fleet_page, DESKTOP)
    loaded = time.perf_counter() - started

    assert loaded < 15, f"{loaded:.1f} s to load {fleet_page.stat().st_size} bytes"  # ~1.5 s
    shown = (
        "[...document.querySelectorAll('#findings [data-status=\"{}\"]')]"
        ".map(e => e.offsetParent !== null)"
    )  # displayed or not, for every line of that status
    assert all(_js(browser, shown.format("pass"))) and all(_js(browser, shown.format("fail")))
    browser.find_element(By.CSS_SELECTOR, '#filter input[value="pass"]').click()
    assert not any(_js(browser, shown.format("pass")))
    assert all(_js(browser, shown.format("fail"))) and all(_js(browser, shown.format("skip")))
    rows = _js(browser, "document.querySelectorAll('#matrices table.matrix tr').length")
    assert rows > 1000  # the matrices: a row per host, domain and relay test, and headers
    assert _js(browser, "document.documentElement.scrollWidth <= window.innerWidth")
    _no_console_errors(browser)

"""The balance report opened in a real browser: Debian's headless chromium through Selenium and
the system chromedriver (nothing is downloaded). The page must load offline, every image must
decode, every audio player must know its duration, the console must stay free of errors. A
screenshot is kept in ``.cache/test-output/report-browser/`` (or ``$AUTOMIX_TEST_OUTPUT``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reaper_automix.cli import main

from .test_report import make_session
from .test_report_match import make_match_song

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio")


def output_folder() -> Path:
    folder = Path(os.environ.get("AUTOMIX_TEST_OUTPUT", REPO / ".cache" / "test-output"))
    folder = folder / "report-browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(scripts/setup.sh installs them: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="automix-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


AUDIO_DURATIONS = """
const done = arguments[arguments.length - 1];
const players = Array.from(document.querySelectorAll('audio'));
Promise.all(players.map(p => p.readyState >= 1 ? p.duration : new Promise(resolve => {
  p.addEventListener('loadedmetadata', () => resolve(p.duration));
  p.addEventListener('error', () => resolve('error ' + (p.error && p.error.code)));
}))).then(done);
"""

AB_SWITCH = """
const done = arguments[arguments.length - 1];
const [before, after] = document.querySelectorAll('.previews audio');
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
(async () => {
  before.currentTime = 1.5;
  await before.play();
  await sleep(300);
  await after.play();
  await sleep(100);
  const state = {beforePaused: before.paused, afterTime: after.currentTime};
  after.pause();
  done(state);
})().catch(error => done({error: String(error)}));
"""


def test_balance_report_in_headless_chromium(browser, tmp_path: Path) -> None:
    project = make_session(tmp_path / "song")
    page, previews = tmp_path / "song" / "report.html", tmp_path / "song" / "ab"
    assert main(["balance", str(project), "--dry-run", "--report", str(page), "--preview",
                 str(previews)]) == 0
    browser.get(page.as_uri())
    browser.set_script_timeout(30)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    durations = browser.execute_async_script(AUDIO_DURATIONS)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    switch = browser.execute_async_script(AB_SWITCH)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 8000))
    shot = output_folder() / "balance-report.png"
    assert browser.save_screenshot(str(shot))

    assert [alt for _, _, alt in images] == ["balance of Drums", "balance of Keys"]
    assert all(complete and width > 0 for complete, width, _ in images), images
    assert len(durations) == 2, "before and after players"
    assert all(isinstance(d, (int, float)) and abs(d - 3.0) < 0.05 for d in durations), durations
    assert all(url.startswith("file:") for url in resources), f"fetched {resources}"
    assert errors == [], errors
    assert switch.get("beforePaused") is True, switch  # starting B pauses A …
    assert 1.5 <= switch["afterTime"] < 2.5, switch  # … and B continues from A's moment
    title = browser.find_element("css selector", "h1").text
    assert title == "AutoMix: Auto balance group — song.RPP"
    print(f"screenshot: {shot}")


def test_match_report_in_headless_chromium(browser, tmp_path: Path) -> None:
    project = make_match_song(tmp_path / "match")
    page, previews = tmp_path / "match" / "report.html", tmp_path / "match" / "ab"
    assert main(["match", str(project), "--reference", str(project.with_name("reference.wav")),
                 "--budget", "600", "--steps", "4", "--dry-run", "--report", str(page),
                 "--preview", str(previews)]) == 0
    browser.get(page.as_uri())
    browser.set_script_timeout(30)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    durations = browser.execute_async_script(AUDIO_DURATIONS)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 16000))
    shot = output_folder() / "match-report.png"
    assert browser.save_screenshot(str(shot))

    alts = [alt for _, _, alt in images]
    assert alts[:4] == ["Bark spectra", "crest, width, imbalance", "feature distances",
                        "loss trace"]
    assert [a for a in alts if a.startswith("MultiEQ")] == [
        "MultiEQ of Drums", "MultiEQ of Bass", "MultiEQ of Lead"]
    assert all(complete and width > 0 for complete, width, _ in images), images
    assert len(durations) == 3, "before, after and reference players"
    assert all(isinstance(d, (int, float)) and abs(d - 6.0) < 0.05 for d in durations), durations
    assert all(url.startswith("file:") for url in resources), f"fetched {resources}"
    assert errors == [], errors
    title = browser.find_element("css selector", "h1").text
    assert title == "AutoMix: Match reference — song.RPP"
    print(f"screenshot: {shot}")


def test_vocal_report_in_headless_chromium(browser, tmp_path: Path) -> None:
    from .test_vocal_job import _write_session

    project = _write_session(tmp_path / "song")
    page, previews = tmp_path / "song" / "vocal.html", tmp_path / "song" / "ab"
    assert main(["vocal", str(project), "--method", "rules", "--dry-run", "--report", str(page),
                 "--preview", str(previews)]) == 0
    browser.get(page.as_uri())
    browser.set_script_timeout(30)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    durations = browser.execute_async_script(AUDIO_DURATIONS)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 8000))
    shot = output_folder() / "vocal-report.png"
    assert browser.save_screenshot(str(shot))

    assert [alt for _, _, alt in images] == [
        "vocal level against the backing", "vocal and backing spectra", "MultiEQ response",
        "OmniCompressor static curve and gain reduction", "FdnReverb decay"]
    assert all(complete and width > 0 for complete, width, _ in images), images
    assert len(durations) == 2 and all(abs(d - 8.0) < 0.05 for d in durations), durations
    assert all(url.startswith("file:") for url in resources), f"fetched {resources}"
    assert errors == [], errors
    assert browser.find_element("css selector", "h1").text == "AutoMix: Mix lead vocal — song.RPP"

"""Real-browser tests: ``streamlit run`` + headless Chromium (Playwright) on every page and the upload path.

The server runs on the tiny-ViT tmp artifacts (``tiny_server``) so each page answers in seconds; one test also
runs against the bundled ``artifacts/model`` when it is present. Screenshots go to
``$MRI_EXPLAIN_SCREENSHOTS`` or a tmp folder.
"""

from __future__ import annotations

import io
import re
import tomllib
from collections.abc import Iterator

import pytest

from dashboard.layout import FOOTER_NOTE
from dashboard.widgets import UPLOAD_TYPES
from model.data.synthetic import phantom_image
from tests.bad_inputs import PATIENT_STRINGS, bad_input_corpus
from tests.e2e.conftest import PAGES, REPO_ROOT, start_server

pytestmark = pytest.mark.e2e

PAGE_TIMEOUT_MS = 90_000  # first page of a cold server imports torch; the tiny model itself answers in ~1 s
VIEWPORT = {"width": 1280, "height": 900}
SIDEBAR_NAV = '[data-testid="stSidebarNav"]'
EXCEPTION = '[data-testid="stException"]'
MAIN = '[data-testid="stMain"]'
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'
FILE_INPUT = f'{MAIN} [data-testid="stFileUploader"] input[type="file"]'
# The footer's last sentence: app.py draws the footer after the page, so seeing it means the script run ended.
FOOTER_TEXT = FOOTER_NOTE.rsplit(". ", 1)[-1].rstrip(".")
MAX_UPLOAD_MB = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())["server"][
    "maxUploadSize"
]
CONCURRENT_SESSIONS = 6
# One of each kind of failure (the whole corpus goes through the page in tests/app/test_upload_corpus.py).
BROWSER_BAD_CASES = (
    "empty_file",
    "text_renamed_jpg",
    "truncated_jpeg",
    "bomb_png_100000",
    "dicom_without_pixel_data",
    "dicom_jpegls_no_decoder",
)

# a clear answer, or the unsure band's "borderline (leans …)" (model.certainty)
_HEADLINE = re.compile(r"(no )?tumor|borderline \(leans (no )?tumor\)")


def _png(seed: int, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    phantom_image(seed, size, tumour=seed % 2 == 0).save(buf, format="PNG")
    return buf.getvalue()


def _wait_done(page) -> None:
    """Wait for the footer (the last element of every run) and for the running indicator to go."""
    page.locator(MAIN).get_by_text(FOOTER_TEXT).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator(RUNNING).first.wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)


def _open(page, url: str, path: str) -> None:
    page.goto(f"{url}/{path}")
    page.locator(SIDEBAR_NAV).wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
    _wait_done(page)


def _upload(page, name: str, data: bytes) -> None:
    page.locator(FILE_INPUT).set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )


def _wait_for_maps(page, n_maps: int = 2) -> None:
    """Scan + shared colour bar + one figure per default method, then the two download buttons."""
    images = page.locator(f'{MAIN} [data-testid="stImage"]')
    images.nth(1 + n_maps).wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator(f'{MAIN} [data-testid="stDownloadButton"]').nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
    _wait_done(page)


def _metric(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def _assert_clean(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
    assert page.locator(SIDEBAR_NAV).is_visible()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_every_page_renders_without_exception(page, tiny_server, screenshot_dir):
    url, _ = tiny_server
    for path in PAGES:
        _open(page, url, path)
        _assert_clean(page)
        page.screenshot(path=str(screenshot_dir / f"tiny-{path}.png"), full_page=True)
    links = page.locator(f'{SIDEBAR_NAV} [data-testid="stSidebarNavLink"]')
    assert links.count() == len(PAGES)


def test_upload_on_explain_page_shows_prediction_and_maps(page, tiny_server, screenshot_dir):
    url, _ = tiny_server
    _open(page, url, "explain")
    _upload(page, "scan.png", _png(5, (96, 112)))
    _wait_for_maps(page)
    _assert_clean(page)
    assert _HEADLINE.fullmatch(_metric(page, "Prediction"))
    assert _metric(page, "P(tumor)").endswith("%")
    page.screenshot(path=str(screenshot_dir / "tiny-explain-upload.png"), full_page=True)


def test_bad_uploads_get_a_message_and_the_next_upload_still_works(page, tiny_server):
    url, _ = tiny_server
    _open(page, url, "explain")
    bad = [c for c in bad_input_corpus() if c.name in BROWSER_BAD_CASES]
    assert len(bad) == len(BROWSER_BAD_CASES)
    assert all(c.filename.rsplit(".", 1)[-1] in UPLOAD_TYPES for c in bad)
    for case in bad:
        _upload(page, case.filename, case.data)
        error = page.locator(f'{MAIN} [data-testid="stAlertContentError"]').filter(has_text=case.filename)
        error.first.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert case.expect in error.first.inner_text(), case.name
        _wait_done(page)
        _assert_clean(page)
    _upload(page, "after.png", _png(8, (100, 90)))
    _wait_for_maps(page)
    _assert_clean(page)


def test_oversized_and_wrong_type_uploads_are_refused_by_the_uploader(page, tiny_server, tmp_path):
    url, _ = tiny_server
    _open(page, url, "explain")
    too_big = tmp_path / "huge.png"
    with open(too_big, "wb") as fh:  # sparse: the browser reads the file from disk, no 20 MB through the pipe
        fh.truncate(MAX_UPLOAD_MB * 1024 * 1024 + 1)
    page.locator(FILE_INPUT).set_input_files(str(too_big))
    uploader = page.locator(f'{MAIN} [data-testid="stFileUploader"]')
    uploader.get_by_text(f"File must be {MAX_UPLOAD_MB:.1f}MB or smaller").wait_for(timeout=PAGE_TIMEOUT_MS)
    _upload(page, "cine.gif", next(c for c in bad_input_corpus() if c.name == "animated_gif").data)
    uploader.get_by_text("files are not allowed").wait_for(timeout=PAGE_TIMEOUT_MS)
    _assert_clean(page)
    _upload(page, "ok.png", _png(3, (90, 90)))
    _wait_for_maps(page)
    _assert_clean(page)


def test_patient_tags_never_reach_the_page_or_the_server_log(page, tiny_server):
    url, log_path = tiny_server
    _open(page, url, "explain")
    dicom = next(c for c in bad_input_corpus() if c.name == "dicom_with_patient_data")
    _upload(page, dicom.filename, dicom.data)
    _wait_for_maps(page)
    _assert_clean(page)
    shown = page.locator("body").inner_text() + page.content()
    log = log_path.read_text(errors="replace")
    for secret in PATIENT_STRINGS:
        assert secret not in shown and secret not in log, secret


def test_concurrent_sessions_each_get_their_own_result(browser, tiny_server, screenshot_dir):
    url, _ = tiny_server
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(CONCURRENT_SESSIONS)]
    try:
        pages = [context.new_page() for context in contexts]
        for p in pages:
            _open(p, url, "explain")
        sizes = [(80 + 8 * i, 120 - 4 * i) for i in range(CONCURRENT_SESSIONS)]  # (H, W) tell sessions apart
        for i, p in enumerate(pages):  # all uploads go out before any result is awaited
            _upload(p, f"session-{i}.png", _png(20 + i, sizes[i]))
        for i, p in enumerate(pages):
            _wait_for_maps(p)
            _assert_clean(p)
            caption = p.locator(f'{MAIN} [data-testid="stImageCaption"]').first.inner_text()
            h, w = sizes[i]
            assert f"session-{i}.png" in caption and f"{w}×{h} px" in caption, caption
            p.screenshot(path=str(screenshot_dir / f"tiny-concurrent-{i}.png"))
    finally:
        for context in contexts:
            context.close()


def test_compare_page_pairs_two_models_and_opens_a_case_in_explain(
    page, tiny_server, compare_artifacts, screenshot_dir
):
    url, _ = tiny_server
    _open(page, url, "compare")
    _assert_clean(page)
    main = page.locator(MAIN)
    # The server's evaluation folder holds only half the baseline's scans: refused in one sentence.
    assert main.get_by_text("are not on the same cases").count() == 1
    field = main.locator('input[aria-label="Evaluation folder"]').nth(1)  # B's field (A's is the first)
    field.fill(str(compare_artifacts.b_eval_dir))
    field.press("Enter")
    main.get_by_text("exact McNemar test").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    _wait_done(page)
    _assert_clean(page)
    open_b = main.get_by_role("button", name="Open in Explain with B")
    open_b.first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert open_b.count() == main.get_by_role("button", name="Open in Explain with A").count() == 4
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 4200})  # the whole page, gallery included
    page.screenshot(path=str(screenshot_dir / "tiny-compare.png"))
    page.set_viewport_size(VIEWPORT)
    open_b.first.click()
    page.wait_for_url("**/explain**", timeout=PAGE_TIMEOUT_MS)
    _wait_for_maps(page)
    _assert_clean(page)
    assert _HEADLINE.fullmatch(_metric(page, "Prediction"))
    sidebar_eval = page.locator('[data-testid="stSidebar"] input[aria-label="Evaluation folder"]')
    assert sidebar_eval.input_value() == str(compare_artifacts.b_eval_dir)


@pytest.fixture(scope="module")
def bundled_server(tmp_path_factory) -> Iterator[str]:
    if not (REPO_ROOT / "artifacts" / "model" / "config.json").exists():
        pytest.skip("no bundled model in artifacts/model (train one with python -m model.train)")
    log_path = tmp_path_factory.mktemp("bundled_log") / "server.log"
    # An empty value means "not set": the app falls back to the bundled artifacts/model and artifacts/eval.
    env = {"MRI_EXPLAIN_MODEL": "", "MRI_EXPLAIN_EVAL": "", "MRI_EXPLAIN_DATA": ""}
    with start_server(env, log_path) as url:
        yield url


@pytest.mark.slow
def test_bundled_model_pages_and_upload(page, bundled_server, screenshot_dir):
    for path in PAGES:
        _open(page, bundled_server, path)
        _assert_clean(page)
        page.screenshot(path=str(screenshot_dir / f"bundled-{path}.png"), full_page=True)
    _open(page, bundled_server, "explain")
    _upload(page, "scan.png", _png(11, (224, 240)))
    _wait_for_maps(page)
    _assert_clean(page)
    assert _HEADLINE.fullmatch(_metric(page, "Prediction"))

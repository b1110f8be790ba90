"""A cold server shows the title and the not-for-diagnosis notice at once, not a blank page (issue 13).

A fresh ``streamlit run`` imports torch and transformers and loads the model in the first session's first
run (11-12 s with the bundled model on 2 cores). The entry script draws the navigation, the title, the notice
and a progress box before that; this test opens a fresh server and times the notice.
"""

from __future__ import annotations

import time

import pytest

from dashboard import startup
from model.notice import DISCLAIMER
from tests.e2e.conftest import REPO_ROOT, start_server
from tests.e2e.test_browser import EXCEPTION, MAIN, PAGE_TIMEOUT_MS, SIDEBAR_NAV, _wait_done, page  # noqa: F401

pytestmark = pytest.mark.e2e

BUNDLED_MODEL = REPO_ROOT / "artifacts" / "model"
# The target is 2 s; 4 s leaves room for 2 shared CI cores (the blank page it replaces lasted 11-12 s).
NOTICE_WITHIN_S = 4.0


def test_cold_start_shows_title_and_notice_before_the_model_is_loaded(page, tmp_path):  # noqa: F811
    if not (BUNDLED_MODEL / "config.json").is_file():
        pytest.skip("the bundled model is absent")
    with start_server({"MRI_EXPLAIN_MODEL": str(BUNDLED_MODEL)}, tmp_path / "server.log") as url:
        started = time.monotonic()
        page.goto(f"{url}/learn", wait_until="commit")
        page.locator(MAIN).get_by_text(DISCLAIMER).first.wait_for(timeout=PAGE_TIMEOUT_MS)
        shown_after = time.monotonic() - started
        assert page.locator(f"{MAIN} h1").filter(has_text=startup.TITLE).count() == 1
        page.locator(SIDEBAR_NAV).wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        _wait_done(page)
        assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
        assert page.locator(f"{MAIN} h1").filter(has_text=startup.TITLE).count() == 0  # cleared once loaded
    assert shown_after <= NOTICE_WITHIN_S, f"the notice took {shown_after:.1f} s"

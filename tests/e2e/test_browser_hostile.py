"""Crafted links and names in a real browser (issue 14): shown as text, no element, no request they ask for.

A ``?case=`` link and an upload name carrying markdown (bold, a link, an image on another host, an autolink)
must appear in the page's message as the literal text, with no ``a``, ``img``, ``strong``, ``em`` or ``code``
element inside the message, and the browser must request nothing from the named host.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlparse

import pytest

from dashboard.safe_text import WORD_JOINER
from tests.e2e.test_browser import MAIN, VIEWPORT, _open, _upload, _wait_done

pytestmark = pytest.mark.e2e

HOST = "evil.example"
INJECTION = f"x`](https://{HOST}/a) **bold** ![i](https://{HOST}/p.png) www.{HOST} me@{HOST}"
MARKUP = "a, img, strong, em, code"


@pytest.fixture
def watched_page(browser) -> Iterator[tuple[object, list[str]]]:
    context = browser.new_context(viewport=VIEWPORT)
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        yield page, requests
    finally:
        context.close()


def _assert_literal(alert, text: str) -> None:
    assert alert.locator(MARKUP).count() == 0, alert.inner_html()
    assert text in alert.inner_text().replace(WORD_JOINER, "")  # the invisible autolink breaker


def test_a_crafted_case_link_is_shown_as_text_and_fetches_nothing(watched_page, tiny_server):
    page, requests = watched_page
    url, _ = tiny_server
    _open(page, url, f"explain?case={quote(INJECTION)}")
    alert = page.locator(f'{MAIN} [data-testid="stAlertContentWarning"]').first
    alert.wait_for()
    _assert_literal(alert, INJECTION)
    assert not [r for r in requests if (urlparse(r).hostname or "").endswith(HOST)]


def test_a_crafted_upload_name_is_shown_as_text_and_fetches_nothing(watched_page, tiny_server):
    page, requests = watched_page
    url, _ = tiny_server
    _open(page, url, "explain")
    name = INJECTION.replace("/", "_") + ".png"  # a file name cannot hold "/"
    _upload(page, name, b"not an image at all")
    alert = page.locator(f'{MAIN} [data-testid="stAlertContentError"]').first
    alert.wait_for()
    _wait_done(page)
    _assert_literal(alert, name)
    assert not [r for r in requests if (urlparse(r).hostname or "").endswith(HOST)]

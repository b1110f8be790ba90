"""Every file of the bad-input corpus through the Explain page's upload path (AppTest).

Each invalid file must give an error naming the file and saying what is wrong (the ``ScanError`` text the
corpus expects), never an exception; each valid oddity must give a prediction and the maps; and one session
keeps serving the next upload after any of them. A file whose extension the uploader does not list (e.g.
``.gif``) is refused by the browser before it reaches the app (tests/e2e checks that message); here its bytes
are pushed under an extra ``.png`` suffix, as a user who renamed it would.
"""

from __future__ import annotations

import pytest

from dashboard.safe_text import plain
from dashboard.widgets import UPLOAD_TYPES
from tests.bad_inputs import bad_input_corpus

PAGE = "../pages/explain.py"
# Two fast maps keep 30 uploads quick; every method is exercised in test_explain_page.py.
FAST_METHODS = ["attention_rollout", "gradcam"]


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="explain.upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def _upload_name(filename: str) -> str:
    """The name the uploader accepts: unchanged, or with ``.png`` appended to an unlisted extension."""
    return filename if filename.rsplit(".", 1)[-1].lower() in UPLOAD_TYPES else f"{filename}.png"


def _outcome(at, case) -> str | None:
    """None when the page did what the case requires, else a description of what went wrong."""
    if at.exception:
        return f"exception: {at.exception[0].value}"
    errors = [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    if case.valid:
        n_maps = len(at.main.get("image")) - 2  # minus the scan itself and the shared colour bar
        # a decoded file that is no brain scan is answered, but the input check's error comes first and the
        # headline says "unreliable (...?)"; the tiny model's ~50 % answers may read "borderline (leans ...)"
        flagged = [e for e in errors if e.startswith("The input check failed")]
        headline = metrics.get("Prediction", "")
        answered = headline in ("tumor", "no tumor") or headline.startswith(("borderline (", "unreliable ("))
        if len(errors) != len(flagged) or not answered or n_maps != len(FAST_METHODS):
            return f"valid file: errors={errors}, metrics={metrics}, maps={n_maps}"
        return None
    said = (
        bool(errors) and plain(case.expect) in errors[0] and plain(_upload_name(case.filename)) in errors[0]
    )
    if metrics or not said:  # the page's messages are escaped markdown (dashboard.safe_text.plain)
        return f"invalid file: errors={errors}, metrics={metrics}, expected {case.expect!r}"
    return None


@pytest.mark.slow
def test_every_corpus_file_gets_a_message_or_a_result_and_the_session_keeps_serving(
    app_env, app_test, phantom_png
):
    at = app_test(PAGE)
    at.session_state["explain.methods"] = FAST_METHODS
    problems = {}
    corpus = bad_input_corpus()
    for case in corpus:
        problem = _outcome(_upload(at, _upload_name(case.filename), case.data), case)
        if problem:
            problems[case.name] = problem
    assert not problems, problems
    assert {c.valid for c in corpus} == {True, False}  # the corpus exercises both paths
    at = _upload(at, "after.png", phantom_png(seed=9))
    assert _outcome(at, type(corpus[0])("after", "after.png", b"", True)) is None


def test_removing_the_upload_after_a_bad_file_returns_to_the_prompt(app_env, app_test):
    at = _upload(app_test(PAGE), "empty.png", b"")
    assert at.error and not at.exception
    at.file_uploader(key="explain.upload").set_value(None)
    at.run()
    assert not at.exception and not at.error and not at.metric
    assert any("Upload a scan" in i.value for i in at.info)

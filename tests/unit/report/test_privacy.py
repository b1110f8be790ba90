"""Privacy: uploads stay in memory, DICOM patient tags never surface, the server is private by default.

- An upload through the Explain page (AppTest) opens no file for writing, creates or renames nothing: a
  process-wide audit hook (PEP 578) records every such event while the upload run executes.
- A DICOM carrying a patient name, ID and birth date: none of ``PATIENT_STRINGS`` appears in the page's
  element tree, in log records or stdout/stderr, in the case report handed to the download buttons, or in the
  PNG/PDF report bytes (PDF streams decompressed first).
- ``.streamlit/config.toml``: no usage statistics, XSRF protection on, bound to localhost, uploads limited.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tomllib
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from matplotlib.text import Text

from model.figures import case as report_module
from model.report.pdf import PrintOptions, render_report_pdf

# The Explain-page fixtures of tests/app/conftest.py, imported so pytest offers them here (hence F401/F811).
# ruff: noqa: F811
from tests.app.conftest import app_artifacts, app_env, app_test, phantom_png  # noqa: F401
from tests.bad_inputs import PATIENT_STRINGS, bad_input_corpus

REPO_ROOT = Path(__file__).resolve().parents[3]
PAGE = "../pages/explain.py"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
FILE_EVENTS = (
    "os.rename",
    "os.mkdir",
    "os.link",
    "os.symlink",
    "shutil.copyfile",
    "tempfile.mkstemp",
    "tempfile.mkdtemp",
    "os.truncate",
)
MAX_UPLOAD_MB_LIMIT = 50  # one MRI slice is a few MB; a larger limit would invite memory exhaustion

_recorders: list[list[str]] = []  # the audit hook appends to the innermost active recorder


def _audit(event: str, args: tuple) -> None:
    if not _recorders:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & WRITE_FLAGS
        # Python's own bytecode cache (first import of a module) is not user data.
        if writes and not isinstance(path, int) and "__pycache__" not in str(path):
            _recorders[-1].append(f"open({path!s}, {mode!r})")
    elif event in FILE_EVENTS:
        _recorders[-1].append(f"{event}({args[0]!s})")


sys.addaudithook(_audit)  # cannot be removed; it does nothing while no recorder is active


@contextlib.contextmanager
def record_file_writes() -> Iterator[list[str]]:
    """Collect every file write, creation or rename the process makes inside the block."""
    found: list[str] = []
    _recorders.append(found)
    try:
        yield found
    finally:
        _recorders.remove(found)


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="explain.upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def _tree_text(at) -> str:
    """Every element's protobuf (text, captions, values, dataframe bytes, JSON) of the page, as one string."""
    parts, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        parts.append(str(getattr(node, "proto", "") or ""))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(parts)


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF bytes followed by every Flate stream decompressed (text and metadata may sit in either)."""
    chunks = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        with contextlib.suppress(zlib.error):
            chunks.append(zlib.decompress(match.group(1)))
    return b"\n".join(chunks)


def _leaks(blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [
        s
        for s in PATIENT_STRINGS
        if s.encode() in data or s.encode("utf-16-be") in data or s.encode("utf-16-le") in data
    ]


def test_the_recorder_sees_writes_and_creations(tmp_path):
    with record_file_writes() as found:
        (tmp_path / "a.txt").write_text("x")
        os.close(os.open(tmp_path / "b.bin", os.O_WRONLY | os.O_CREAT))
        os.replace(tmp_path / "a.txt", tmp_path / "c.txt")
        (tmp_path / "c.txt").read_text()  # reading is not writing
    assert len(found) == 3 and "a.txt" in found[0] and "b.bin" in found[1] and "os.rename" in found[2]


def test_an_upload_is_processed_without_writing_any_file(app_env, app_test, phantom_png):
    at = app_test(PAGE)
    with record_file_writes() as found:
        at = _upload(at, "scan.png", phantom_png(seed=4))
        at = _upload(at, "patient.dcm", _patient_dicom())
    assert not at.exception and at.metric
    assert found == []


def _patient_dicom() -> bytes:
    return next(c for c in bad_input_corpus() if c.name == "dicom_with_patient_data").data


@pytest.fixture
def all_logs():
    """Every log record of every logger at DEBUG, including Streamlit's non-propagating loggers."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record) + repr(record.args))

    handler = Keep(logging.DEBUG)
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield records
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_dicom_patient_tags_never_reach_page_logs_or_report(app_env, app_test, monkeypatch, capfd, all_logs):
    from dashboard import report_view

    reports = []
    real_downloads = report_view.downloads
    monkeypatch.setattr(
        report_view, "downloads", lambda rep, *args: (reports.append(rep), real_downloads(rep, *args))
    )
    at = _upload(app_test(PAGE), "patient.dcm", _patient_dicom())
    assert not at.exception and at.metric and len(reports) == 1
    page = _tree_text(at)
    assert "patient.dcm" in page  # the walk reaches captions: the file name is shown, the tags are not
    assert _leaks(page) == [], "patient data shown on the page"
    out, err = capfd.readouterr()
    assert _leaks("\n".join(all_logs) + out + err) == [], "patient data logged"
    rep = reports[0]
    assert _leaks(repr(rep)) == [], "patient data in the report contents"
    texts = " ".join(t.get_text() for t in report_module.build_case_figure(rep).findobj(Text))
    assert report_module.DISCLAIMER in texts and _leaks(texts) == []
    pdf = _pdf_text(render_report_pdf(rep, PrintOptions("patient.dcm")))
    assert rep.fingerprint.encode() in pdf  # the search sees the PDF's metadata
    assert _leaks(pdf) == [] and _leaks(report_module.render_png(rep)) == []


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())


def test_config_sends_no_usage_statistics(config):
    assert config["browser"]["gatherUsageStats"] is False


def test_config_keeps_xsrf_protection_and_binds_to_localhost(config):
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["address"] == "localhost"


def test_config_limits_upload_size(config):
    assert 0 < config["server"]["maxUploadSize"] <= MAX_UPLOAD_MB_LIMIT

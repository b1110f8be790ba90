"""Browser-test fixtures: a real ``streamlit run`` server on a free local port and Debian's Chromium.

- ``start_server(env, log_path)``: a context manager that starts ``python -m streamlit run dashboard/app.py
  --server.headless true --server.port <free>`` from the repo root with ``env`` added to the environment,
  polls ``/_stcore/health`` until it answers, yields the base URL and always stops the server (its whole
  process group) on exit.
- ``tiny_server`` (module): that server pointed at tmp artifacts (the tiny ViT, synthetic evaluations and a
  phantom data folder, built by ``tests/app/conftest.py``'s ``app_artifacts``), so pages answer in seconds.
- ``browser`` (session): headless Chromium through Playwright's sync API; the tests skip with the reason when
  Playwright or a ``chromium`` binary is missing (``playwright install`` cannot download a browser here).
- ``screenshot_dir``: ``$MRI_EXPLAIN_SCREENSHOTS`` when set, else a tmp folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/app/conftest.py's session fixture (tiny ViT + synthetic evaluations), imported so pytest offers it.
# ruff: noqa: F811
from tests.app.conftest import app_artifacts, compare_artifacts  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT_S = 90  # a cold start imports torch + transformers on a shared 2-core machine
SERVER_STOP_TIMEOUT_S = 15
PAGES = ("overview", "explain", "performance", "error-audit", "quality", "compare", "learn")


def free_port() -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if _healthy(url):
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"streamlit did not answer /_stcore/health within {SERVER_START_TIMEOUT_S} s:\n"
        f"{log_path.read_text()[-3000:]}"
    )


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(SERVER_STOP_TIMEOUT_S)


@contextlib.contextmanager
def start_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Run the dashboard with ``env`` on a free port; yield ``http://localhost:<port>``; always stop it."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard/app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://localhost:{port}"
        _wait_healthy(url, proc, log_path)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def tiny_server(app_artifacts, compare_artifacts, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(base URL, server log path) of a dashboard on the tiny-ViT tmp artifacts (baseline: another one)."""
    log_path = tmp_path_factory.mktemp("streamlit_log") / "server.log"
    env = {
        "MRI_EXPLAIN_MODEL": str(app_artifacts.model_dir),
        "MRI_EXPLAIN_EVAL": str(app_artifacts.eval_dir),
        "MRI_EXPLAIN_DATA": str(app_artifacts.data_dir),
        "MRI_EXPLAIN_BASELINE": str(compare_artifacts.baseline_dir),
    }
    with start_server(env, log_path) as url:
        yield url, log_path


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (sync API)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium binary (apt-get install chromium); Playwright cannot download one here")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where screenshots go: ``$MRI_EXPLAIN_SCREENSHOTS`` (created) or this test's tmp folder."""
    folder = Path(os.environ.get("MRI_EXPLAIN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder

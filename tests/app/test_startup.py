"""Cold start: title, notice and model-load progress come before torch is imported (issue 13, Waiting)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from dashboard import startup
from model.notice import DISCLAIMER

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "captum", "matplotlib", "pandas")


class _LoadStopped(RuntimeError):
    pass


def test_entry_script_imports_only_streamlit_and_the_startup_screen():
    tree = ast.parse((ROOT / "dashboard" / "app.py").read_text(encoding="utf-8"))
    imported = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert imported == {"__future__.annotations", "streamlit", "dashboard.startup"}


def test_startup_screen_needs_no_torch():
    code = f"import sys, dashboard.startup; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_title_and_notice_are_drawn_before_the_model_load(app_env, app_test, monkeypatch):
    import dashboard.layout

    def stopped() -> str:
        raise _LoadStopped("the model load is where a cold start waits")

    monkeypatch.setattr(dashboard.layout, "preload_classifier", stopped)
    at = app_test()
    assert at.exception  # the run stopped inside the model load ...
    assert [t.value for t in at.title] == [startup.TITLE]  # ... with the title, notice and progress drawn
    assert any(DISCLAIMER in w.value for w in at.warning)
    assert "Importing PyTorch and transformers…" in [m.value for m in at.markdown]


def test_warm_reruns_skip_the_screen_and_load_once(app_env, app_test, monkeypatch):
    import dashboard.layout

    calls = []
    real = dashboard.layout.preload_classifier
    monkeypatch.setattr(dashboard.layout, "preload_classifier", lambda: calls.append(1) or real())
    at = app_test()
    assert not at.exception and at.session_state[startup.READY_KEY]
    assert startup.TITLE not in [t.value for t in at.title]  # cleared once the page can draw
    at.run()
    assert not at.exception and len(calls) == 1

"""The CI script runs the README's test command and enforces lint and formatting."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT


def _readme_test_command() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("**Run the tests**") :]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_lints_checks_formatting_then_runs_exactly_the_readme_test_command():
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    steps = [line for line in lines if line]
    assert steps[-1] == _readme_test_command()
    install = steps.index("python3 -m pip install -q -r requirements.txt")  # brings the pinned ruff
    assert install < steps.index("python3 -m ruff check .") < steps.index("python3 -m ruff format --check .")
    assert "set -euo pipefail" in steps  # a failing ruff step stops the script with its exit status
    assert re.search(r"^ruff==\S+$", (REPO_ROOT / "requirements.txt").read_text(), re.M)

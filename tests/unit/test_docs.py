"""The documentation keeps up with the code: the README's layout names every module of ``model/``, and every
public function of ``model/`` that takes two or more parameters documents them in an ``Args:`` section."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO_ROOT

MODEL = REPO_ROOT / "model"


def _layout_words() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout") :]
    block = re.search(r"```\n(.+?)\n```", section, re.S).group(1)
    return set(re.findall(r"[a-z_0-9]+", block))


def _modules() -> list[Path]:
    return [p for p in sorted(MODEL.rglob("*.py")) if p.stem not in ("__init__", "__main__")]


def _public_functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.FunctionDef]]:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                yield from walk(node.body, f"{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                yield prefix + node.name, node

    yield from walk(tree.body, "")


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]


def undocumented(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """``path:line name`` of each public function with >= 2 parameters whose docstring has no ``Args:``."""
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(root)}:{fn.lineno} {name}"
        for name, fn in _public_functions(tree)
        if len(_params(fn)) >= 2 and "Args:" not in (ast.get_docstring(fn) or "")
    ]


def test_readme_layout_names_every_model_module():
    words = _layout_words()
    missing = [str(p.relative_to(REPO_ROOT)) for p in _modules() if p.stem not in words]
    assert missing == []


def test_every_public_multi_parameter_function_in_model_documents_its_args():
    missing = [line for p in _modules() for line in undocumented(p)]
    assert missing == []


def test_the_docstring_check_flags_a_function_without_args(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "def good(a, b):\n    '''Sum.\n\n    Args:\n        a: x.\n        b: y.\n    '''\n"
        "def bad(a, b):\n    '''Sum.'''\n"
        "def one(a):\n    '''One parameter needs no Args.'''\n"
        "def _private(a, b):\n    pass\n"
        "class K:\n    def method(self, a, b):\n        '''No Args.'''\n"
    )
    lines = [line.split(" ", 1)[1] for line in undocumented(source, tmp_path)]
    assert lines == ["bad", "K.method"]

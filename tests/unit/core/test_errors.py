"""model.errors: one base class; the message ends with the fix exactly once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import model
from model.errors import MriExplainError


def test_the_fix_is_appended_once_and_kept_as_an_attribute():
    err = MriExplainError("The manifest is missing.", fix="run python -m model.data split")
    assert str(err) == "The manifest is missing. Fix: run python -m model.data split"
    assert err.fix == "run python -m model.data split" and err.message == "The manifest is missing."


def test_a_message_that_already_names_the_fix_is_not_repeated():
    err = MriExplainError("Missing; run python -m model.evaluate.", fix="run python -m model.evaluate")
    assert str(err) == "Missing; run python -m model.evaluate."
    assert str(MriExplainError("Plain.")) == "Plain."


def _project_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a ``model`` module (``__main__`` modules would run their CLI)."""
    found = []
    for info in pkgutil.walk_packages(model.__path__, "model."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        module = importlib.import_module(info.name)
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == info.name
        ]
    return found


def test_every_exception_defined_in_model_subclasses_the_one_base():
    classes = _project_exceptions()
    names = {cls.__name__ for cls in classes}
    assert {"ScanError", "ArtifactError", "ModelLoadError", "CaseFileError", "PretrainedError"} <= names
    assert len(classes) >= 19
    assert [cls.__name__ for cls in classes if not issubclass(cls, MriExplainError)] == []


def test_the_second_base_is_kept_for_existing_except_clauses():
    from model.data.scan import ScanError
    from model.loading import ModelLoadError

    assert issubclass(ScanError, ValueError) and issubclass(ModelLoadError, RuntimeError)
    assert str(ScanError("Not a scan; choose a PNG.")) == "Not a scan; choose a PNG."

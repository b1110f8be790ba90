"""model.errors: one base class; the message ends with the fix exactly once."""

from __future__ import annotations

from model.errors import MriExplainError


def test_the_fix_is_appended_once_and_kept_as_an_attribute():
    err = MriExplainError("The manifest is missing.", fix="run python -m model.data split")
    assert str(err) == "The manifest is missing. Fix: run python -m model.data split"
    assert err.fix == "run python -m model.data split" and err.message == "The manifest is missing."


def test_a_message_that_already_names_the_fix_is_not_repeated():
    err = MriExplainError("Missing; run python -m model.evaluate.", fix="run python -m model.evaluate")
    assert str(err) == "Missing; run python -m model.evaluate."
    assert str(MriExplainError("Plain.")) == "Plain."

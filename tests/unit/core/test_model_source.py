"""model.loading.source_kind and dashboard.settings: odd model-field values get one sentence, no OSError."""

from __future__ import annotations

import pytest
import streamlit as st

from dashboard import settings
from model.loading import MAX_SOURCE_CHARS, ModelLoadError, load_classifier, path_text_problem, source_kind

ODD_SOURCES = [
    "a" * 5000,
    "runs/" + "b" * 300,
    "x" * (MAX_SOURCE_CHARS + 1),
    "bad\x00name",
    "two\nlines",
    " ",
]


@pytest.mark.parametrize("source", ODD_SOURCES, ids=range(len(ODD_SOURCES)))
def test_an_odd_source_is_refused_before_the_file_system_is_asked(source, monkeypatch):
    def no_fs(*args: object, **kwargs: object) -> bool:
        raise AssertionError("the file system was asked about an impossible name")

    monkeypatch.setattr("pathlib.Path.is_dir", no_fs)
    monkeypatch.setattr("pathlib.Path.exists", no_fs)
    with pytest.raises(ModelLoadError) as err:
        load_classifier(source)
    message = str(err.value)
    assert "\n" not in message and len(message) < 400 and "folder" in message


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("owner/name", "hub"),
        ("AMfeta99/vit-base-oxford-brain-tumor", "hub"),
        ("google/vit-base-patch16-224", "hub"),
        ("EleutherAI/gpt-neo-1.3B", "hub"),  # hub names may hold dots
        ("owner/vit.v2", "hub"),
    ],
)
def test_hub_ids_are_recognised_by_one_rule(source, kind):
    assert source_kind(source) == kind


@pytest.mark.parametrize(
    "source", ["owner/name/extra", "./relative", "~/model", "owner/name.json", "owner/w.PT", "-x/y", "a/"]
)
def test_anything_else_that_is_not_a_folder_does_not_exist(source):
    with pytest.raises(ModelLoadError, match="does not exist"):
        source_kind(source)


def test_a_folder_is_a_folder(tmp_path):
    assert source_kind(tmp_path) == "folder"


def test_load_for_finetuning_uses_the_same_rule():
    from model.loading import load_for_finetuning

    with pytest.raises(ModelLoadError, match="characters long"):
        load_for_finetuning("c" * 5000)


def test_path_text_problem_accepts_ordinary_paths():
    assert path_text_problem("../shared/data/brain_tumor_dataset") is None
    assert path_text_problem("no tumor/with space.jpg") is None


def test_odd_folder_fields_fall_back_with_a_sentence_and_the_model_field_is_never_replaced(monkeypatch):
    monkeypatch.setattr(
        st,
        "session_state",
        {settings.KEY_EVAL: "e" * 5000, settings.KEY_DATA: "d\x00", settings.KEY_MODEL: "m" * 5000},
    )
    assert settings.eval_dir() == settings.Path(settings._expand(settings.default_eval_dir()))
    assert settings.data_dir() == (
        settings.Path(settings.default_data_dir()) if settings.default_data_dir() else None
    )
    assert settings.model_source() == "m" * 5000  # refused by the loader, never swapped for another model
    problems = settings.field_problems()
    assert set(problems) == {"Model", "Evaluation folder", "Data folder"}
    assert all("e" * 50 not in p and "m" * 50 not in p for p in problems.values())  # never quoted


# The two loaders once checked hub ids apart: load_classifier refused a name with a file suffix, while
# load_for_finetuning sent it to the hub. Both now go through source_kind and give the same sentence.
DISAGREED_IDS = ["owner/name.json", "owner/model.safetensors", "runs/model.bin"]


@pytest.mark.parametrize("source", DISAGREED_IDS)
def test_the_two_loaders_agree_on_ids_the_old_checks_disagreed_on(source, monkeypatch):
    from model import loading

    def no_hub(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a name with a file suffix was sent to the hub")

    monkeypatch.setattr(loading, "_load_from_hub", no_hub)
    messages = []
    for load in (loading.load_classifier, loading.load_for_finetuning):
        with pytest.raises(ModelLoadError, match="does not exist") as err:
            load(source)
        messages.append(str(err.value))
    assert messages[0] == messages[1]

"""The one definition of class labels and folder-name mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping

from model.errors import MriExplainError

# Folder name (one sub-folder per class) -> human label. Order here is the model's class-index order.
DEFAULT_CLASS_MAP: Mapping[str, str] = {"no": "no tumor", "yes": "tumor"}
LABELS: tuple[str, ...] = tuple(DEFAULT_CLASS_MAP.values())
POSITIVE_LABEL = "tumor"


# What a class name may contain: it is shown on every page and written into reports and CSV headers, so no
# markdown, link or formula syntax ("no tumor", "glioma_tumor", "Pituitary (benign)" all fit).
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _()-]{0,63}")


class LabelMismatchError(MriExplainError, ValueError):
    """A model's or artifact's labels differ from the ones expected."""


def is_plain_label(label: object) -> bool:
    """Whether ``label`` is a class name of letters, digits, spaces, "_", "-" and parentheses (<= 64)."""
    return isinstance(label, str) and LABEL_PATTERN.fullmatch(label) is not None


def id2label(labels: tuple[str, ...] | list[str] = LABELS) -> dict[int, str]:
    """Map class index to label, as stored in a Hugging Face config's ``id2label``."""
    return {i: name for i, name in enumerate(labels)}


def label2id(labels: tuple[str, ...] | list[str] = LABELS) -> dict[str, int]:
    """Map label to class index, as stored in a Hugging Face config's ``label2id``."""
    return {name: i for i, name in enumerate(labels)}


def check_labels(
    found: tuple[str, ...] | list[str], expected: tuple[str, ...] | list[str], what: str
) -> None:
    """Raise :class:`LabelMismatchError` naming both label lists when they differ.

    Args:
        found: labels read from the thing being checked (model config, evaluation file).
        expected: labels it must match.
        what: a short description used in the message (e.g. "model /path/to/model").
    """
    if tuple(found) != tuple(expected):
        raise LabelMismatchError(
            f"{what} has labels {list(found)}, expected {list(expected)}. "
            "Use a model and evaluations trained for the same classes "
            "(labels come from config.json id2label)."
        )


def class_index(labels: tuple[str, ...] | list[str], label: str) -> int:
    """The index of ``label`` in a model's ``labels``, refused when the model has no such class.

    Args:
        labels: class names in index order (``config.id2label``).
        label: the class wanted (e.g. :data:`POSITIVE_LABEL`, or a label read from a predictions file).

    Returns:
        Its index in ``labels``.

    Raises:
        LabelMismatchError: ``label`` is not one of ``labels``; no other class is guessed in its place.
    """
    if label not in labels:
        raise LabelMismatchError(
            f"The model has no class '{label}' (its labels are {list(labels)}).",
            fix=f"choose a model whose config.json id2label names '{label}'",
        )
    return list(labels).index(label)


def positive_index(labels: tuple[str, ...] | list[str]) -> int:
    """The index of :data:`POSITIVE_LABEL` ("tumor"): the class whose probability and maps pages show.

    Args:
        labels: class names in index order (``config.id2label``).

    Returns:
        Its index in ``labels``.

    Raises:
        LabelMismatchError: the model has no "tumor" class (a hub model with other class names); the
            project does not guess which of its classes means tumour.
    """
    return class_index(labels, POSITIVE_LABEL)

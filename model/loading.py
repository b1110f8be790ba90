"""Model I/O: load a ViT classifier from a local folder or the Hub, build one for offline training, save one.

A model folder is plain ``save_pretrained`` output (``config.json`` with ``id2label``, ``model.safetensors``)
plus ``preprocessor_config.json`` and, when trained here, ``training_config.json``. The bundled folder keeps
only its fine-tuned tensors in git; its ``model.safetensors`` is rebuilt on first load (:mod:`model.bundle`).

Example::

    from model.labels import LABELS, LabelMismatchError
    from model.loading import ModelLoadError, load_classifier

    try:
        classifier = load_classifier("artifacts/model", expected_labels=LABELS)
    except (ModelLoadError, LabelMismatchError) as err:
        print(err)  # what is wrong and what to load instead
    else:
        print(classifier.labels, classifier.fingerprint, classifier.patch_grid)  # eval mode, eager attention
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import ViTConfig, ViTForImageClassification

from model.bundle import RECIPE_FILE, TOP_FILE, BundleError, assemble_weights, is_split
from model.errors import MriExplainError
from model.labels import LABELS, LabelMismatchError, check_labels, id2label, is_plain_label, label2id
from model.preprocess import PREPROCESSOR_FILE, PreprocessConfig

RUN_CONFIG_FILE = "training_config.json"
HUB_HOST = ("huggingface.co", 443)
HUB_PROBE_TIMEOUT_S = 3.0
# A model source longer than this is a paste accident, not a folder or hub id (PATH_MAX is 4096, NAME_MAX 255:
# checked here so the file system is never asked about such a name).
MAX_SOURCE_CHARS = 1024
MAX_NAME_BYTES = 255
# Hugging Face repo ids: owner/name, each at most 96 characters of letters, digits, ".", "_" and "-".
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
# A name ending in one of these is a mistyped path to a file, never a repo (hub names may hold dots, as in
# "EleutherAI/gpt-neo-1.3B", so a dot alone says nothing).
FILE_SUFFIXES = frozenset(
    {".bin", ".ckpt", ".csv", ".dcm", ".gz", ".h5", ".jpeg", ".jpg", ".json", ".msgpack", ".onnx", ".png"}
    | {".pt", ".pth", ".safetensors", ".tar", ".txt", ".zip"}
)
SOURCE_HELP = "type a save_pretrained folder such as 'artifacts/model' or a hub id such as 'owner/name'"

# Standard ViT sizes (Dosovitskiy et al. 2021; DeiT-Ti for "tiny").
ARCHITECTURES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 192, "num_hidden_layers": 12, "num_attention_heads": 3, "intermediate_size": 768},
    "small": {
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 6,
        "intermediate_size": 1536,
    },
    "base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
}


class ModelLoadError(MriExplainError, RuntimeError):
    """A model could not be loaded; the message says what to do instead."""


@dataclass(frozen=True)
class Classifier:
    """A loaded model with everything needed to use and describe it.

    Attributes:
        model: the ViT in eval mode with eager attention (attention maps available).
        preprocess: how scans become this model's input.
        labels: class names in index order, from ``config.id2label``.
        fingerprint: sha256[:12] of the weights (see :func:`weights_fingerprint`).
        source: the folder or hub id it came from.
    """

    model: ViTForImageClassification
    preprocess: PreprocessConfig
    labels: tuple[str, ...]
    fingerprint: str
    source: str

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid for this model's input size."""
        cfg = self.model.config
        side = self.preprocess.image_size // cfg.patch_size
        return (side, side)


def weights_fingerprint(model: torch.nn.Module) -> str:
    """Hash the weights (names, shapes and fp32 values), independent of the file format they came from.

    Returns:
        The first 12 hex digits of the sha256.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def _labels_of(config: ViTConfig) -> tuple[str, ...]:
    return tuple(config.id2label[i] for i in range(config.num_labels))


def _hub_reachable() -> bool:
    try:
        with socket.create_connection(HUB_HOST, timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def path_text_problem(text: str) -> str | None:
    """Why ``text`` cannot name a file or folder (said without quoting it), or None when it can.

    Checked before the file system is asked anything: too long (over MAX_SOURCE_CHARS), control characters
    (NUL included), or one name over MAX_NAME_BYTES.
    """
    if len(text) > MAX_SOURCE_CHARS:
        return f"is {len(text)} characters long, more than the {MAX_SOURCE_CHARS} a path or hub id may have"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "contains control characters (such as a line break or NUL), which no folder path or hub id has"
    if any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in Path(text).parts):
        return f"has a folder name over {MAX_NAME_BYTES} bytes, more than a file system allows"
    return None


def source_kind(source: str | Path) -> str:
    """Whether a model source is a local folder ("folder") or a hub id ("hub"), checked before any other use.

    Length and characters are checked before the file system is asked anything, so a pasted 5000-character
    value or one with a NUL byte gets this sentence instead of ``OSError: File name too long``.

    Args:
        source: what the user typed or passed (a folder path or ``owner/name``).

    Returns:
        "folder" for an existing directory, "hub" for a well-formed hub id (``owner/name``, dots allowed,
        not ending in a file suffix such as ``.json``).

    Raises:
        ModelLoadError: neither; the message says which and what to type instead.
    """
    text = str(source)
    if not text.strip():
        raise ModelLoadError(f"The model source is empty; {SOURCE_HELP}.")
    if problem := path_text_problem(text):
        raise ModelLoadError(f"The model source {problem}; {SOURCE_HELP}.")
    try:
        if Path(text).is_dir():
            return "folder"
    except OSError as err:  # e.g. permission denied on a parent folder
        raise ModelLoadError(
            f"Model folder '{text}' cannot be read ({err.strerror}); {SOURCE_HELP}."
        ) from err
    if HUB_ID.fullmatch(text) and Path(text).suffix.lower() not in FILE_SUFFIXES:
        return "hub"
    raise ModelLoadError(f"Model folder '{text}' does not exist. Pass a save_pretrained folder or a hub id.")


def _from_pretrained(source: str, local_files_only: bool, **head: object) -> ViTForImageClassification:
    if local_files_only and is_split(source):  # the bundled model: rebuild its frozen blocks once
        try:
            assemble_weights(source)
        except BundleError as err:
            raise ModelLoadError(str(err)) from err
    model = ViTForImageClassification.from_pretrained(
        source, attn_implementation="eager", local_files_only=local_files_only, dtype=torch.float32, **head
    )
    return model.eval()


def _read_preprocess(source: str, local: bool) -> PreprocessConfig:
    if local:
        return PreprocessConfig.load(source)
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(source, PREPROCESSOR_FILE)
    except Exception:  # noqa: BLE001 - hub models without a processor file use ViT defaults
        return PreprocessConfig(crop_brain=False)
    return PreprocessConfig.from_hf_dict(json.loads(Path(path).read_text()))


def load_classifier(source: str | Path, expected_labels: tuple[str, ...] | None = None) -> Classifier:
    """Load a ViT image classifier for inference and explanation.

    Args:
        source: a local ``save_pretrained`` folder, or a Hugging Face hub id such as
            ``AMfeta99/vit-base-oxford-brain-tumor``.
        expected_labels: when given, the model's ``id2label`` must list exactly these classes.

    Returns:
        A :class:`Classifier` with the model in eval mode and eager attention.

    Raises:
        ModelLoadError: the folder is missing or unreadable, or the hub cannot be reached; the message names
            the alternative.
        LabelMismatchError: the model's labels differ from ``expected_labels``.
    """
    source = str(source)
    path = Path(source)
    local = source_kind(source) == "folder"
    if local and not (path / "config.json").exists():
        raise ModelLoadError(f"'{source}' has no config.json: it is not a save_pretrained model folder.")
    try:
        if local:
            model = _from_pretrained(source, local_files_only=True)
        else:
            model = _load_from_hub(source)
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelLoadError(f"Could not load a ViT classifier from '{source}': {err}") from err
    labels = _labels_of(model.config)
    if not all(is_plain_label(label) for label in labels):
        raise LabelMismatchError(
            f"model '{source}' has class names in config.json id2label that are not plain names (letters, "
            "digits, spaces, _ - ( ) only, at most 64 characters); rename them in id2label."
        )
    if expected_labels is not None:
        check_labels(labels, expected_labels, f"model '{source}'")
    return Classifier(model, _read_preprocess(source, local), labels, weights_fingerprint(model), source)


def with_sdpa_attention(model: torch.nn.Module) -> torch.nn.Module:
    """The same model (the very same weight tensors, nothing copied) but with PyTorch's SDPA attention.

    For batch inference that needs no attention maps: the fused kernel skips materialising softmax inputs,
    about 10 % of a ViT-S/14 pass on 2 cores, and moves logits by ~1e-6. The shared model keeps its eager
    attention and its config untouched (the app needs both for rollout); only the module tree and the config
    are copied. A model already on another attention implementation is returned as is, and so is a
    dynamic-int8 one: it quantises each activation afresh, so a 1e-6 change flips roundings and moves its
    logits by up to ~0.1 (bundled model).

    Args:
        model: a ``ViTForImageClassification`` (fp32, or dynamic int8 from ``quantize_dynamic``).

    Returns:
        A model in eval mode whose parameters and buffers are ``model``'s own (``model`` itself when kept).
    """
    quantized = any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in model.modules())
    if quantized or getattr(model.config, "_attn_implementation", None) != "eager":
        return model
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    twin = copy.deepcopy(model, shared)
    twin.config._attn_implementation = "sdpa"  # the copy's config, shared by all of the copy's layers
    return twin.eval()


def _load_from_hub(hub_id: str, **head: object) -> ViTForImageClassification:
    try:  # the local Hugging Face cache first: works offline when the model was downloaded before
        return _from_pretrained(hub_id, local_files_only=True, **head)
    except OSError:
        pass
    if not _hub_reachable():
        raise ModelLoadError(
            f"Cannot reach the Hugging Face Hub to download '{hub_id}' (no network), it is not in the local "
            "cache, and no folder of that name exists here. Download it where the Hub is reachable "
            f"(`huggingface-cli download {hub_id}`) or choose a local save_pretrained folder such as "
            "'artifacts/model'."
        )
    return _from_pretrained(hub_id, local_files_only=False, **head)


def load_for_finetuning(
    base: str | Path, labels: tuple[str, ...] = LABELS, **overrides: float
) -> tuple[ViTForImageClassification, PreprocessConfig]:
    """Load a pretrained ViT (hub id or local folder) with a NEW, randomly initialised head for ``labels``.

    The backbone weights are kept; the classifier is replaced whatever its original size
    (``ignore_mismatched_sizes=True``), and ``id2label``/``label2id`` are rewritten.

    Args:
        base: a hub id such as ``google/vit-base-patch16-224`` or a local ``save_pretrained`` folder.
        labels: class names in index order for the new head.
        **overrides: ``ViTConfig`` fields to change (e.g. ``hidden_dropout_prob=0.1``).

    Returns:
        The model (eval mode, eager attention) and the base's preprocessing (ViT defaults when it has none).

    Raises:
        ModelLoadError: the folder is missing or not a model, or the hub is unreachable and the id is not
            cached.
    """
    source = str(base)
    local = source_kind(source) == "folder"
    if local and not (Path(source) / "config.json").exists():
        raise ModelLoadError(f"'{source}' has no config.json: it is not a save_pretrained model folder.")
    head = dict(
        num_labels=len(labels),
        id2label=id2label(labels),
        label2id=label2id(labels),
        ignore_mismatched_sizes=True,
        **overrides,
    )
    try:
        model = _from_pretrained(source, True, **head) if local else _load_from_hub(source, **head)
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelLoadError(f"Could not load a ViT to fine-tune from '{source}': {err}") from err
    return model, _read_preprocess(source, local)


def build_classifier(
    arch: str,
    labels: tuple[str, ...] = LABELS,
    image_size: int = 224,
    patch_size: int = 16,
    **overrides: float,
) -> ViTForImageClassification:
    """Make a randomly initialised ViT classifier for training from scratch.

    Args:
        arch: ``tiny`` (ViT-Ti/DeiT-Ti), ``small`` (ViT-S) or ``base`` (ViT-B); see :data:`ARCHITECTURES`.
        labels: class names in index order (written to ``id2label``).
        image_size: input side in pixels; must be a multiple of ``patch_size``.
        patch_size: patch side in pixels.
        **overrides: any other ``ViTConfig`` field (e.g. ``num_hidden_layers=6``,
            ``hidden_dropout_prob=0.1``).

    Returns:
        The model in eval mode with eager attention.

    Raises:
        ValueError: unknown ``arch`` or an image size that the patch size does not divide.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}'; choose one of {sorted(ARCHITECTURES)}.")
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}.")
    config = ViTConfig(
        **{**ARCHITECTURES[arch], **overrides},
        image_size=image_size,
        patch_size=patch_size,
        num_labels=len(labels),
        id2label=id2label(labels),
        label2id=label2id(labels),
    )
    config._attn_implementation = "eager"
    return ViTForImageClassification(config).eval()


def save_classifier(
    model: ViTForImageClassification,
    preprocess: PreprocessConfig,
    out_dir: str | Path,
    run_config: dict | None = None,
    half: bool = False,
) -> Path:
    """Write a model folder: ``save_pretrained`` output, the preprocessor config and the run's config.

    A weights delta left in the folder (:mod:`model.bundle`) describes the old weights, so it is removed.

    Args:
        model: the classifier (its ``id2label`` must be set).
        preprocess: preprocessing used in training.
        out_dir: folder to write (created).
        run_config: JSON-serialisable training settings, saved as ``training_config.json``.
        half: store the weights as float16 (half the size; loading casts back to float32).

    Returns:
        The folder path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_save = model
    if half:
        to_save = ViTForImageClassification(model.config)
        to_save.load_state_dict(model.state_dict())
        to_save = to_save.half()
    to_save.save_pretrained(out)
    for stale in (RECIPE_FILE, TOP_FILE):  # a delta of the weights just replaced (python -m model.bundle)
        (out / stale).unlink(missing_ok=True)
    preprocess.save(out)
    if run_config is not None:
        (out / RUN_CONFIG_FILE).write_text(json.dumps(run_config, indent=2, sort_keys=True) + "\n")
    return out


def flat_run_record(record: dict) -> dict:
    """A :mod:`model.train.run` record as one flat dict of its config and outcome keys.

    ``training_config.json`` is ``{schema_version, config, outcome}``; runs recorded before that were flat,
    and fine-tuning records (with a ``recipe``) keep their own shape, so both come back unchanged.

    Args:
        record: the parsed ``training_config.json``.

    Returns:
        ``{**config, **outcome}`` for a schema-versioned training record, else ``record`` itself.
    """
    config, outcome = record.get("config"), record.get("outcome")
    if "recipe" in record or not isinstance(config, dict) or not isinstance(outcome, dict):
        return record
    return {**config, **outcome}

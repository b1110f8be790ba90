"""Scan loading (interim minimal version; being extended with DICOM and bad-input handling)."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field

from PIL import Image


class ScanError(ValueError):
    """The input is not a usable scan; the message says why in plain words."""


@dataclass(frozen=True)
class Scan:
    """A decoded scan: 8-bit RGB pixels plus where they came from."""

    image: Image.Image
    sha256: str
    source_format: str
    original_mode: str
    frame: int | None = None
    n_frames: int = 1
    notes: tuple[str, ...] = field(default=())


def load_scan(source: str | os.PathLike | bytes, frame: int | None = None) -> Scan:
    """Decode a scan from a path or bytes, by content."""
    data = source if isinstance(source, bytes) else open(source, "rb").read()
    if not data:
        raise ScanError("The file is empty.")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as err:
        raise ScanError(f"Not a readable image: {err}") from err
    return Scan(img.convert("RGB"), hashlib.sha256(data).hexdigest(), img.format or "?", img.mode)

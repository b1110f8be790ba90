"""A phantom data set on disk for the tests: ``yes/`` + ``no/`` folders as the real data set has them."""

from __future__ import annotations

from pathlib import Path

from model.data.synthetic import phantom_image


def write_phantom_dataset(root: str | Path, n_per_class: int = 12, duplicates: int = 2) -> Path:
    """Write a small ``yes/`` + ``no/`` folder of phantom PNGs/JPEGs, with some exact duplicates.

    Args:
        root: folder to create.
        n_per_class: distinct images per class.
        duplicates: how many images per class are written a second time under another name.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    for folder, tumour, offset in (("yes", True, 0), ("no", False, 10_000)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            size = (80 + 4 * (i % 5), 96 + 3 * (i % 7))
            img = phantom_image(offset + i, size, tumour)
            fmt = "PNG" if i % 3 == 0 else "JPEG"
            img.save(root / folder / f"{folder}{i}.{'png' if fmt == 'PNG' else 'jpg'}", format=fmt)
            if i < duplicates:
                img.save(root / folder / f"{folder}{i}_copy.png", format="PNG")
    return root

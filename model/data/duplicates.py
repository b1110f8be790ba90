"""Exact and near-duplicate groups of scans: content hashes, perceptual hashes, union-find.

Two scans are *exact* duplicates when their file bytes have the same SHA-256. They are *near* duplicates when
the same picture was re-cropped, rescaled, re-encoded or had its contrast changed. Near duplicates are found
with two 64-bit perceptual hashes of a small greyscale thumbnail of the head:

- pHash: whether each of the 8x8 lowest DCT frequencies of a 32x32 thumbnail exceeds the median of the 63
  non-constant ones
  (Zauner, "Implementation and Benchmarking of Perceptual Image Hash Functions", 2010);
- dHash: whether each pixel of a 9x8 thumbnail is brighter than its right-hand neighbour (Krawetz, 2013).

Both depend only on the order of intensities, so they survive rescaling, JPEG re-encoding and monotone
contrast changes. Because the same slice is often framed differently (black borders, screenshots, text),
each image is hashed on two head crops, a loose one (keeps dark CSF and grey matter) and a tight one (drops
dim halos and margins). A pair's distance is the larger of its pHash and dHash Hamming distances (both must
agree), minimised over the two crops (either framing may match). The crops are defined here, not borrowed from
preprocessing, so that changing the model's preprocessing never regroups the data set.
Grouping is label-blind; groups that cross classes are reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy.fft import dctn

# Pairs at or below this many differing bits (of 64, in both hashes, on the better crop) are near duplicates.
# On the 253 real scans every reference near-duplicate pair lies at <= 4 bits and every other pair at >= 12
# (one pair the reference misses, at 2 bits, is one slice with and without on-screen text); 8 is the middle.
NEAR_DUPLICATE_MAX_BITS = 8
# A pixel is head when brighter than this share of the 99th percentile: loose crop, tight crop. The two
# framings cover each other's failures (a bright skull halo or a grey screenshot border fools one of them).
HEAD_THRESHOLDS: tuple[float, float] = (0.12, 0.25)
# Rows/columns with fewer head pixels than this share are margin, text or scale bars.
CROP_MIN_LINE_FRACTION = 0.05
PHASH_SIZE = 32  # thumbnail side for the DCT
HASH_SIDE = 8  # 8x8 = 64 bits per hash


@dataclass(frozen=True)
class Groups:
    """Duplicate groups over a list of items (paths).

    Attributes:
        group: item -> group id ("g:" + the group's smallest item, so ids are stable and readable).
        kind: group id -> "exact" (all members byte-identical), "near" (some differ) or "single".
        cross_class: ids of groups whose members carry more than one label (should be empty).
    """

    group: dict[str, str]
    kind: dict[str, str]
    cross_class: tuple[str, ...]

    def members(self) -> dict[str, list[str]]:
        """Group id -> sorted member items."""
        out: dict[str, list[str]] = {}
        for item in sorted(self.group):
            out.setdefault(self.group[item], []).append(item)
        return out

    def count(self, kind: str) -> int:
        """Number of groups of a kind ("exact", "near", "single")."""
        return sum(k == kind for k in self.kind.values())


def head_box(gray: NDArray[np.uint8], threshold: float) -> tuple[int, int, int, int]:
    """The head's bounding box (no margin), ignoring dark borders and thin marks.

    Args:
        gray: (H, W) uint8 image.
        threshold: head pixels are brighter than this share of the image's 99th percentile, in (0, 1).

    Returns:
        (top, left, bottom, right), bottom/right exclusive; the whole image when nothing qualifies.
    """
    h, w = gray.shape
    ref = float(np.percentile(gray, 99))
    head = gray > threshold * ref  # (H, W) bool
    rows = np.flatnonzero(head.mean(axis=1) > CROP_MIN_LINE_FRACTION)
    cols = np.flatnonzero(head.mean(axis=0) > CROP_MIN_LINE_FRACTION)
    if ref <= 0 or rows.size == 0 or cols.size == 0:
        return (0, 0, h, w)
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def _hashes(gray: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """(2, 64) bool: pHash and dHash bits of a greyscale crop."""
    img = Image.fromarray(gray)
    thumb = np.asarray(img.resize((PHASH_SIZE, PHASH_SIZE), Image.Resampling.BILINEAR), np.float64)
    low = dctn(thumb, norm="ortho")[:HASH_SIDE, :HASH_SIDE].ravel()  # (64,)
    phash = low > np.median(low[1:])  # the DC term (mean brightness) would skew the median
    small = np.asarray(img.resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.BILINEAR), np.float64)
    dhash = (small[:, 1:] > small[:, :-1]).ravel()  # (64,)
    return np.stack([phash, dhash])


def fingerprint(image: Image.Image) -> NDArray[np.bool_]:
    """Perceptual fingerprint of a scan: two hashes on each of two head crops.

    Args:
        image: any-mode PIL image (converted to 8-bit greyscale here).

    Returns:
        (2 crops, 2 hashes, 64) bool array; crops follow :data:`HEAD_THRESHOLDS`, hashes (pHash, dHash).
    """
    gray = np.asarray(image.convert("L"))
    crops = []
    for top, left, bottom, right in (head_box(gray, t) for t in HEAD_THRESHOLDS):
        crops.append(_hashes(np.ascontiguousarray(gray[top:bottom, left:right])))
    return np.stack(crops)


def pair_distances(prints: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Pairwise near-duplicate distance: max over hashes, min over crops, of the Hamming distance.

    Args:
        prints: (N, 2, 2, 64) bool fingerprints from :func:`fingerprint`.

    Returns:
        (N, N) int64 symmetric matrix in [0, 64], zero diagonal.
    """
    n = len(prints)
    out = np.zeros((n, n), np.int64)
    for i in range(n):
        bits = (prints != prints[i]).sum(axis=-1)  # (N, crops, hashes)
        out[i] = bits.max(axis=2).min(axis=1)
    return out


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


def find_groups(
    items: Sequence[str],
    sha256: Sequence[str],
    labels: Sequence[str],
    prints: NDArray[np.bool_],
    max_bits: int = NEAR_DUPLICATE_MAX_BITS,
) -> Groups:
    """Union-find over exact (same SHA-256) and near (distance <= ``max_bits``) pairs.

    Args:
        items: N unique item names (relative paths).
        sha256: N content hashes.
        labels: N class labels (used only to report cross-class groups).
        prints: (N, 2, 2, 64) bool fingerprints.
        max_bits: near-duplicate threshold; a negative value groups exact duplicates only.

    Returns:
        :class:`Groups` covering every item (singletons included).
    """
    n = len(items)
    parent = list(range(n))
    first_by_hash: dict[str, int] = {}
    for i, digest in enumerate(sha256):
        parent[_find(parent, i)] = _find(parent, first_by_hash.setdefault(digest, i))
    if n and max_bits >= 0:
        for i, j in zip(*np.nonzero(np.triu(pair_distances(prints) <= max_bits, k=1)), strict=True):
            parent[_find(parent, int(i))] = _find(parent, int(j))
    roots: dict[int, list[int]] = {}
    for i in range(n):
        roots.setdefault(_find(parent, i), []).append(i)
    group, kind, cross = {}, {}, []
    for members in roots.values():
        gid = "g:" + min(items[i] for i in members)
        hashes = {sha256[i] for i in members}
        kind[gid] = "single" if len(members) == 1 else ("exact" if len(hashes) == 1 else "near")
        if len({labels[i] for i in members}) > 1:
            cross.append(gid)
        for i in members:
            group[items[i]] = gid
    return Groups(group, kind, tuple(sorted(cross)))


@dataclass(frozen=True)
class Agreement:
    """How our groups agree with a reference grouping (e.g. the data set's near_duplicate_groups.csv).

    "Same-group pairs" are unordered pairs of items placed in one group. Precision is the share of our pairs
    that the reference also has; recall the share of reference pairs that we have. ``near_*`` count only
    pairs whose bytes differ (exact pairs are trivially found).

    Attributes:
        exact_match: our exact-duplicate groups (same SHA-256) equal the reference's.
        n_exact: (ours, reference) number of exact-duplicate groups.
        pair_precision, pair_recall: over all same-group pairs, in [0, 1] (1.0 when there are none).
        near_precision, near_recall: over same-group pairs with different bytes, in [0, 1].
        adjusted_rand: adjusted Rand index of the two partitions (Hubert & Arabie, 1985), 1.0 = identical.
        missed: reference near pairs we do not group; extra: our near pairs the reference does not list.
        hash_mismatches: items whose reference SHA-256 differs from ours (the files changed).
    """

    exact_match: bool
    n_exact: tuple[int, int]
    pair_precision: float
    pair_recall: float
    near_precision: float
    near_recall: float
    adjusted_rand: float
    missed: tuple[tuple[str, str], ...]
    extra: tuple[tuple[str, str], ...]
    hash_mismatches: tuple[str, ...]


def _pairs(group: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = {}
    for item in sorted(group):
        members.setdefault(group[item], []).append(item)
    return {(a, b) for m in members.values() for k, a in enumerate(m) for b in m[k + 1 :]}


def _ratio(num: int, den: int) -> float:
    return 1.0 if den == 0 else num / den


def adjusted_rand_index(a: Sequence[str], b: Sequence[str]) -> float:
    """Adjusted Rand index of two labelings of the same N items (Hubert & Arabie, 1985).

    Args:
        a, b: N cluster ids each.

    Returns:
        ARI in [-1, 1]; 1.0 for identical partitions (also when both are all-singletons).
    """
    _, ia = np.unique(np.asarray(a), return_inverse=True)
    _, ib = np.unique(np.asarray(b), return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), np.int64)
    np.add.at(table, (ia, ib), 1)

    def comb2(x: NDArray[np.int64]) -> float:
        return float((x * (x - 1) // 2).sum())

    index, rows, cols = comb2(table), comb2(table.sum(1)), comb2(table.sum(0))
    expected = rows * cols / comb2(np.array([len(a)]))
    best = (rows + cols) / 2
    return 1.0 if best == expected else (index - expected) / (best - expected)


def compare_groups(
    ours: Groups, sha256: dict[str, str], ref_group: dict[str, str], ref_sha256: dict[str, str]
) -> Agreement:
    """Compare our groups with a reference over our items; items absent from the reference are singletons.

    Args:
        ours: our groups (covers every item).
        sha256: item -> our content hash.
        ref_group: item -> reference group id, for the items the reference lists.
        ref_sha256: item -> the reference's content hash, for the same items.

    Returns:
        :class:`Agreement`.
    """
    items = sorted(ours.group)
    ref_full = {i: ref_group.get(i, "single:" + i) for i in items}
    ours_p, ref_p = _pairs(ours.group), _pairs(ref_full)
    near = {p for p in ours_p | ref_p if sha256[p[0]] != sha256[p[1]]}
    ours_exact = _pairs(sha256)
    ref_exact = _pairs({i: h for i, h in ref_sha256.items() if i in sha256})
    hit_near = ours_p & ref_p & near
    return Agreement(
        exact_match=ours_exact == ref_exact,
        n_exact=(_count_multi(sha256), _count_multi({i: h for i, h in ref_sha256.items() if i in sha256})),
        pair_precision=_ratio(len(ours_p & ref_p), len(ours_p)),
        pair_recall=_ratio(len(ours_p & ref_p), len(ref_p)),
        near_precision=_ratio(len(hit_near), len(ours_p & near)),
        near_recall=_ratio(len(hit_near), len(ref_p & near)),
        adjusted_rand=adjusted_rand_index([ours.group[i] for i in items], [ref_full[i] for i in items]),
        missed=tuple(sorted((ref_p - ours_p) & near)),
        extra=tuple(sorted((ours_p - ref_p) & near)),
        hash_mismatches=tuple(sorted(i for i, h in ref_sha256.items() if i in sha256 and sha256[i] != h)),
    )


def _count_multi(labels: dict[str, str]) -> int:
    """Number of ids shared by two or more items."""
    values, counts = np.unique(list(labels.values()), return_counts=True) if labels else ([], [])
    return int(sum(c > 1 for c in counts))

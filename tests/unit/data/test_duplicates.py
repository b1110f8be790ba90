"""Perceptual fingerprints, near-duplicate grouping and agreement figures, on generated phantoms."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageOps
from sklearn.metrics import adjusted_rand_score

from model.data.duplicates import (
    NEAR_DUPLICATE_MAX_BITS,
    adjusted_rand_index,
    compare_groups,
    find_groups,
    fingerprint,
    head_box,
    pair_distances,
)
from model.data.synthetic import phantom_image


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


# The edits behind the real data set's near duplicates: rescaling, re-encoding, contrast changes, reframing.
NEAR_EDITS = {
    "upscaled x2": lambda im: im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC),
    "downscaled x0.6": lambda im: im.resize((im.width * 3 // 5, im.height * 3 // 5), Image.Resampling.BOX),
    "jpeg q40": lambda im: _jpeg(im, 40),
    "linear contrast": lambda im: im.point(lambda v: int(0.7 * v + 20)),
    "gamma 0.6": lambda im: im.point(lambda v: int(255 * (v / 255) ** 0.6)),
    "black border": lambda im: ImageOps.expand(im, border=24, fill=(0, 0, 0)),
    "greyscale mode": lambda im: im.convert("L"),
}


def _distance(a: Image.Image, b: Image.Image) -> int:
    return int(pair_distances(np.stack([fingerprint(a), fingerprint(b)]))[0, 1])


def test_fingerprint_shape_and_determinism():
    img = phantom_image(3, (120, 140), tumour=True)
    fp = fingerprint(img)
    assert fp.shape == (2, 2, 64) and fp.dtype == np.bool_
    assert np.array_equal(fp, fingerprint(img.copy()))
    # Neither hash is constant: roughly half the bits are set, as expected of a median/ordering hash.
    assert 16 <= fp[:, 0].sum(axis=-1).min() and fp[:, 0].sum(axis=-1).max() <= 48


@pytest.mark.parametrize("edit", sorted(NEAR_EDITS))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_edited_copies_are_near_duplicates(seed, edit):
    img = phantom_image(seed, (120, 140), tumour=True)
    assert _distance(img, NEAR_EDITS[edit](img)) <= NEAR_DUPLICATE_MAX_BITS


def test_different_phantoms_are_far_apart():
    images = [phantom_image(s, (120, 140), tumour=t) for s in range(6) for t in (False, True)]
    dist = pair_distances(np.stack([fingerprint(im) for im in images]))
    off_diagonal = dist[~np.eye(len(images), dtype=bool)]
    assert off_diagonal.min() > NEAR_DUPLICATE_MAX_BITS
    assert np.array_equal(dist, dist.T) and not np.diag(dist).any()


def test_head_box_finds_the_head_inside_black_borders():
    gray = np.zeros((100, 120), np.uint8)
    gray[20:70, 30:100] = 150
    assert head_box(gray, 0.25) == (20, 30, 70, 100)
    assert head_box(np.zeros((10, 12), np.uint8), 0.25) == (0, 0, 10, 12)


def _prints(images):
    return np.stack([fingerprint(im) for im in images])


def test_find_groups_exact_near_and_cross_class():
    a, b = phantom_image(0, (120, 140), True), phantom_image(1, (120, 140), True)
    items = ["no/a_copy", "yes/a", "yes/a_jpeg", "yes/b"]
    sha = ["h1", "h1", "h2", "h3"]
    groups = find_groups(items, sha, ["no", "yes", "yes", "yes"], _prints([a, a, _jpeg(a, 40), b]))
    assert groups.members() == {"g:no/a_copy": ["no/a_copy", "yes/a", "yes/a_jpeg"], "g:yes/b": ["yes/b"]}
    assert groups.kind == {"g:no/a_copy": "near", "g:yes/b": "single"}
    assert groups.cross_class == ("g:no/a_copy",)
    exact_only = find_groups(items, sha, ["no", "yes", "yes", "yes"], _prints([a, a, _jpeg(a, 40), b]), -1)
    assert exact_only.kind["g:no/a_copy"] == "exact" and exact_only.count("single") == 2


def test_adjusted_rand_index_hand_values():
    assert adjusted_rand_index(list("aabb"), list("xxyy")) == pytest.approx(1.0)
    # Contingency [[2, 0], [1, 1]]: index 1, expected 2*3/6 = 1, max 2.5 -> ARI 0.
    assert adjusted_rand_index(list("aabb"), list("xxxy")) == pytest.approx(0.0)
    assert adjusted_rand_index(list("abcd"), list("wxyz")) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_adjusted_rand_index_equals_sklearn_on_random_partitions(seed):
    rng = np.random.default_rng(seed)
    a = [f"g{i}" for i in rng.integers(0, 12, 60)]
    b = [f"h{i}" for i in rng.integers(0, 5 + seed, 60)]
    # Same sums of pair counts in another order; beyond this the formulas differ, not the rounding.
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)


def test_compare_groups_pair_figures():
    img = phantom_image(0, (120, 140), True)
    others = [phantom_image(s, (120, 140), True) for s in (1, 2)]
    items, sha = ["p", "q", "r", "s", "t"], ["h1", "h1", "h2", "h3", "h4"]
    ours = find_groups(items, sha, ["y"] * 5, _prints([img, img, _jpeg(img, 40), *others]))
    sha_of = dict(zip(items, sha, strict=True))
    # Reference: p=q exact, p~r near, and also claims s~t (which we do not group); it lists hashes as ours.
    ref_group = {"p": "G1", "q": "G1", "r": "G1", "s": "G2", "t": "G2"}
    agree = compare_groups(ours, sha_of, ref_group, sha_of)
    assert agree.exact_match and agree.n_exact == (1, 1)
    assert agree.pair_precision == pytest.approx(1.0) and agree.pair_recall == pytest.approx(3 / 4)
    assert agree.near_precision == pytest.approx(1.0) and agree.near_recall == pytest.approx(2 / 3)
    assert agree.missed == (("s", "t"),) and agree.extra == () and agree.hash_mismatches == ()
    # A reference that lists nothing: every pair of ours is "extra"; exact groups then disagree.
    none = compare_groups(ours, sha_of, {}, {})
    assert not none.exact_match and none.pair_precision == 0.0 and none.pair_recall == 1.0
    assert none.extra == (("p", "r"), ("q", "r"))


def test_compare_groups_flags_changed_hashes():
    img = phantom_image(0, (120, 140), True)
    ours = find_groups(["p", "q"], ["h1", "h2"], ["y", "y"], _prints([img, img.rotate(90)]))
    agree = compare_groups(ours, {"p": "h1", "q": "h2"}, {"p": "G", "q": "G"}, {"p": "h1", "q": "OTHER"})
    assert agree.hash_mismatches == ("q",)
    assert list(itertools.chain(*agree.missed)) == ["p", "q"]

"""Reference points for one scan's faithfulness scores: a random patch ranking and the starting probability.

A deletion area of 0.45 means nothing alone: on a scan whose probability barely moves when patches are
removed, every ranking scores near the starting probability. So the Explain page shows, beside each method's
areas, what a **random patch ranking** scores on the same scan and class (the mean over
:data:`N_RANDOM_RANKINGS` seeded rankings, as the batch job's ``random`` reference does over scans) and the
class probability of the intact scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from model.explain.quality import deletion_insertion
from model.explain.state import patch_grid_of
from model.loading import Classifier
from model.preprocess import preprocess

# Rankings averaged for the reference. One random ranking's area varies by ~0.05 between seeds on these
# scans; three bring that to ~0.03 for three times the cost of one method's curves (batched forwards).
N_RANDOM_RANKINGS = 3
REFERENCE_SEED = 20240613


@dataclass(frozen=True)
class ScoreReference:
    """What a random ranking scores on one scan and class.

    Attributes:
        deletion_auc: mean deletion area of the random rankings (a method should be lower).
        insertion_auc: mean insertion area of the random rankings (a method should be higher).
        start_probability: class probability of the intact scan (the deletion curve's first point).
        blurred_probability: class probability of the blurred scan (the insertion curve's first point).
        n_rankings: random rankings averaged.
    """

    deletion_auc: float
    insertion_auc: float
    start_probability: float
    blurred_probability: float
    n_rankings: int


def random_reference(
    classifier: Classifier, image: Image.Image, target: int, n_rankings: int = N_RANDOM_RANKINGS
) -> ScoreReference:
    """Deletion / insertion areas of seeded random patch rankings on one scan (forward passes only).

    Args:
        classifier: the shared model (not modified).
        image: the decoded scan.
        target: class whose probability is tracked.
        n_rankings: random rankings to average (>= 1).

    Returns:
        :class:`ScoreReference`.
    """
    pixel_values, _ = preprocess(image, classifier.preprocess)
    rows, cols = patch_grid_of(classifier.model, pixel_values[None])
    rng = np.random.default_rng(REFERENCE_SEED)
    curves = [
        deletion_insertion(classifier.model, pixel_values[None], rng.random((rows, cols)), int(target))
        for _ in range(max(1, int(n_rankings)))
    ]
    return ScoreReference(
        float(np.mean([c.deletion_auc for c in curves])),
        float(np.mean([c.insertion_auc for c in curves])),
        float(curves[0].deletion[0]),
        float(curves[0].insertion[0]),
        len(curves),
    )

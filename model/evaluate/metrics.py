"""Classification metrics computed from per-case records: the one implementation for files and dashboard.

Every number in a saved evaluation comes from :func:`compute_metrics` applied to the per-case records
(``{split}_predictions.csv``, see :mod:`model.evaluate.artifacts`), so a page that changes the decision
threshold
recomputes with the same code. Binary quantities (sensitivity, specificity, ROC-AUC, PR-AUC, Brier) treat the
``positive`` label against all others. A metric that a record set cannot define (e.g. ROC-AUC with one class
present, precision of a class never predicted) is NaN and ``undefined[name]`` says why; nothing raises.

Confidence intervals are percentile bootstrap intervals (Efron & Tibshirani 1993) that resample duplicate
*groups*, not cases, so near-identical scans of one patient never count as independent evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import rankdata
from tqdm import tqdm

from model.labels import POSITIVE_LABEL

N_BOOTSTRAP = 1000  # resamples per interval; percentile endpoints move by < 0.01 between seeds at this size
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
# An interval is reported only when the metric is defined in at least this share of resamples; otherwise it
# would describe only the rare resamples that happen to contain both classes.
MIN_VALID_RESAMPLE_FRACTION = 0.5
N_RELIABILITY_BINS = 10  # equal-width probability bins (Guo et al. 2017 use 15; 10 suits splits of ~50 cases)
# Probabilities are clipped to at least this before the log in the NLL: a saturated wrong answer costs ~27.6.
LOG_EPS = 1e-12
PROB_PREFIX, CAL_PREFIX, LOGIT_PREFIX = "p_", "pcal_", "logit_"
SCALARS = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "sensitivity",
    "specificity",
    "roc_auc",
    "pr_auc",
    "brier",
    "nll",
    "ece",
)
# The scalars where a smaller value is the better model (errors and calibration gaps); all others: larger.
LOWER_IS_BETTER = ("brier", "nll", "ece")
# The scalars that do not depend on the decision threshold: rankings (ROC-AUC, PR-AUC) and scores of the
# probabilities themselves (Brier, NLL, top-label ECE). Every other scalar changes when the threshold moves.
THRESHOLD_FREE = frozenset({"roc_auc", "pr_auc", "brier", "nll", "ece"})
NAN = float("nan")


def probability_columns(labels: Sequence[str], calibrated: bool = False) -> list[str]:
    """Record columns holding the per-class probabilities (``p_<label>`` raw, ``pcal_<label>`` calibrated).

    Args:
        labels: K class names in index order.
        calibrated: the temperature-scaled columns instead of the raw ones.

    Returns:
        K column names, in label order.
    """
    return [f"{CAL_PREFIX if calibrated else PROB_PREFIX}{label}" for label in labels]


def predict_indices(probs: NDArray[np.floating], pos: int, threshold: float = 0.5) -> NDArray[np.int64]:
    """Decide a class per case: ``pos`` when its probability >= ``threshold``, else the likeliest other class.

    Args:
        probs: (N, K) probabilities, rows sum to 1.
        pos: index of the positive class.
        threshold: decision threshold on the positive probability, in [0, 1]; 0.5 with K=2 is the argmax.

    Returns:
        (N,) int64 class indices.
    """
    others = np.array(probs, dtype=np.float64, copy=True)
    others[:, pos] = -np.inf
    return np.where(probs[:, pos] >= threshold, pos, others.argmax(axis=1)).astype(np.int64)


def _ratio(num: float, den: float, why: str, name: str, undefined: dict[str, str]) -> float:
    if den == 0:
        undefined[name] = why
        return NAN
    return float(num / den)


def roc_auc(scores: NDArray[np.floating], is_pos: NDArray[np.bool_]) -> float:
    """Area under the ROC curve as the Mann-Whitney rank statistic (tied scores count one half).

    Args:
        scores: (N,) scores, higher means more positive.
        is_pos: (N,) bool, True for positive cases.

    Returns:
        P(score of a random positive > score of a random negative) in [0, 1]; NaN when a class is absent.
    """
    n_pos = int(is_pos.sum())
    n_neg = is_pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return NAN
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ranked_counts(scores: NDArray, is_pos: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Distinct thresholds (descending) and the true/false positives when predicting score >= threshold."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked, hits = np.asarray(scores, dtype=np.float64)[order], np.asarray(is_pos, dtype=bool)[order]
    last = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1]  # end of each tie block
    return ranked[last], np.cumsum(hits)[last], np.cumsum(~hits)[last]


def average_precision(scores: NDArray[np.floating], is_pos: NDArray[np.bool_]) -> float:
    """PR-AUC as average precision: sum over thresholds of (recall step) x precision (no interpolation).

    Args:
        scores: (N,) positive-class probabilities (any real scores).
        is_pos: (N,) bool, True for the positive cases.

    Returns:
        AP in [0, 1] (the positive prevalence for an uninformative score); NaN when there is no positive case.
    """
    n_pos = int(is_pos.sum())
    if n_pos == 0 or is_pos.size == 0:
        return NAN
    _, tp, fp = _ranked_counts(scores, is_pos)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / (tp + fp)))


def _bins(conf: NDArray, hit: NDArray, n_bins: int) -> tuple[NDArray, NDArray, NDArray]:
    """Per equal-width bin [i/n, (i+1)/n) (the last one closed): count, mean confidence, mean hit."""
    idx = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, minlength=n_bins) / count
        mean_hit = np.bincount(idx, hit.astype(np.float64), minlength=n_bins) / count
    return count, mean_conf, mean_hit


def _per_class(cm: NDArray, labels: Sequence[str], undefined: dict[str, str]) -> dict[str, dict[str, float]]:
    out = {}
    for k, name in enumerate(labels):
        tp, support, predicted = cm[k, k], cm[k].sum(), cm[:, k].sum()
        never, absent = f"no case was predicted '{name}'", f"no '{name}' case in the records"
        out[name] = {
            "precision": _ratio(tp, predicted, never, f"precision/{name}", undefined),
            "recall": _ratio(tp, support, absent, f"recall/{name}", undefined),
            "f1": _ratio(2 * tp, support + predicted, f"{absent} and {never}", f"f1/{name}", undefined),
            "support": int(support),
        }
    return out


def _averages(per_class: dict, undefined: dict[str, str]) -> dict[str, float]:
    support = np.array([c["support"] for c in per_class.values()], dtype=np.float64)
    present = support > 0
    out = {"balanced_accuracy": float(np.mean([c["recall"] for c in per_class.values() if c["support"]]))}
    for stat in ("precision", "recall", "f1"):
        values = np.array([c[stat] for c in per_class.values()])
        bad = [label for label, c in per_class.items() if np.isnan(c[stat])]
        out[f"macro_{stat}"] = float(values.mean())
        out[f"weighted_{stat}"] = float(np.sum(values[present] * support[present]) / support.sum())
        if bad:
            undefined[f"macro_{stat}"] = f"{stat} of {bad} is undefined"
            if np.isnan(out[f"weighted_{stat}"]):
                undefined[f"weighted_{stat}"] = f"{stat} of {bad} is undefined"
    return out


def _confusion(y: NDArray[np.int64], pred: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """(K, K) int64 counts, rows = true class, columns = predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.int64)


def point_metrics(
    y: NDArray[np.int64], probs: NDArray[np.float64], labels: Sequence[str], pos: int, threshold: float
) -> tuple[dict, dict[str, str], NDArray[np.int64]]:
    """All metrics of one record set, on arrays (the kernel of :func:`compute_metrics` and its bootstrap).

    Args:
        y: (N,) true class indices, N >= 1.
        probs: (N, K) probabilities, rows sum to 1.
        labels: K class names in index order.
        pos: index of the positive class.
        threshold: decision threshold on the positive probability.

    Returns:
        (metrics: the :data:`SCALARS` plus ``per_class``; undefined: metric -> reason, for NaN values;
        confusion: (K, K) int64 counts, rows = true label, columns = predicted label).
    """
    pred = predict_indices(probs, pos, threshold)
    cm = _confusion(y, pred, len(labels))
    undefined: dict[str, str] = {}
    per_class = _per_class(cm, labels, undefined)
    is_pos, p_pos = y == pos, probs[:, pos]
    neg_total = int((~is_pos).sum())
    tn = int(((pred != pos) & ~is_pos).sum())
    count, mean_conf, mean_hit = _bins(probs.max(axis=1), probs.argmax(axis=1) == y, N_RELIABILITY_BINS)
    m = {
        "accuracy": float(np.trace(cm) / y.size),
        **_averages(per_class, undefined),
        "sensitivity": per_class[labels[pos]]["recall"],
        "specificity": _ratio(tn, neg_total, f"no case other than '{labels[pos]}'", "specificity", undefined),
        "roc_auc": roc_auc(p_pos, is_pos),
        "pr_auc": average_precision(p_pos, is_pos),
        "brier": float(np.mean((p_pos - is_pos) ** 2)),
        "nll": float(-np.mean(np.log(np.clip(probs[np.arange(y.size), y], LOG_EPS, 1.0)))),
        "ece": float(np.nansum(count * np.abs(mean_hit - mean_conf)) / y.size),
    }
    if np.isnan(m["sensitivity"]):
        undefined["sensitivity"] = f"no '{labels[pos]}' case in the records"
    if np.isnan(m["roc_auc"]) or np.isnan(m["pr_auc"]):
        why = "needs both positive and negative cases" if is_pos.any() else f"no '{labels[pos]}' case"
        undefined.update({n: why for n in ("roc_auc", "pr_auc") if np.isnan(m[n])})
    return {**{name: m[name] for name in SCALARS}, "per_class": per_class}, undefined, cm


def _leaves(metrics: dict) -> dict[tuple[str, ...], float]:
    out = {(name,): metrics[name] for name in SCALARS}
    for label, stats in metrics["per_class"].items():
        out.update({("per_class", label, stat): stats[stat] for stat in ("precision", "recall", "f1")})
    return out


def group_resamples(
    groups: Sequence[str], n_resamples: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED
) -> Iterator[NDArray[np.int64]]:
    """Case indices of each group-bootstrap resample: whole duplicate groups drawn with replacement.

    The one resampling scheme of the project (per-model intervals and paired differences use it), so the
    same ``groups`` and ``seed`` give the same resamples everywhere.

    Args:
        groups: (N,) group id per case; each resample draws as many groups as there are.
        n_resamples: number of resamples.
        seed: seeds :func:`numpy.random.default_rng`.

    Yields:
        (M,) int64 case indices into the N cases (M varies with the groups drawn).
    """
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=str))
    members = [np.flatnonzero(codes == g) for g in range(len(uniques))]
    draws = np.random.default_rng(seed).integers(0, len(uniques), size=(n_resamples, len(uniques)))
    for draw in draws:
        yield np.concatenate([members[g] for g in draw])


KeyT = TypeVar("KeyT", bound=Hashable)


def bootstrap_samples(
    statistic: Callable[[NDArray[np.int64]], Mapping[KeyT, float]],
    groups: Sequence[str],
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    bar: str | None = None,
) -> dict[KeyT, list[float]]:
    """The values of ``statistic`` on every group-bootstrap resample: the kernel of every interval.

    Args:
        statistic: case indices (M,) of one resample -> {key: value} (e.g. every metric of those cases).
        groups: (N,) group id per case (see :func:`group_resamples`).
        n_resamples: number of resamples.
        seed: seeds :func:`numpy.random.default_rng`; the same seed gives the same resamples.
        bar: label of a tqdm progress bar on stderr; None shows none.

    Returns:
        key -> one value per resample, in resample order (keys as ``statistic`` first returns them; empty
        when ``n_resamples`` is 0).

    Example::

        >>> import numpy as np
        >>> x = np.array([0.0, 1.0, 2.0])
        >>> out = bootstrap_samples(lambda idx: {"mean": float(x[idx].mean())}, ["a", "b", "c"], 5, seed=0)
        >>> len(out["mean"])
        5
    """
    samples: dict[KeyT, list[float]] = {}
    resamples = group_resamples(groups, n_resamples, seed)
    for idx in tqdm(resamples, total=n_resamples, desc=bar, disable=bar is None):
        for key, value in statistic(idx).items():
            samples.setdefault(key, []).append(value)
    return samples


def bootstrap_record(n_resamples: int, seed: int) -> dict:
    """How the intervals were drawn, as saved beside them (evaluations and comparisons alike).

    Args:
        n_resamples: group-bootstrap resamples (0: no intervals).
        seed: their seed.

    Returns:
        ``{"resamples", "seed", "level": CI_LEVEL, "unit": "group"}``.
    """
    return {"resamples": n_resamples, "seed": seed, "level": CI_LEVEL, "unit": "group"}


def percentile_interval(values: Sequence[float], n_resamples: int) -> list[float]:
    """[low, high] percentile interval (level :data:`CI_LEVEL`) of bootstrap values; NaN values are left out.

    Args:
        values: the statistic on each resample; NaN where it was undefined.
        n_resamples: the number of resamples drawn (finite values are counted against it).

    Returns:
        [NaN, NaN] when fewer than :data:`MIN_VALID_RESAMPLE_FRACTION` of ``n_resamples`` are finite.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or finite.size < MIN_VALID_RESAMPLE_FRACTION * n_resamples:
        return [NAN, NAN]
    tail = 100 * (1 - CI_LEVEL) / 2
    return [float(v) for v in np.percentile(finite, [tail, 100 - tail])]


def bootstrap_intervals(
    y: NDArray[np.int64],
    probs: NDArray[np.float64],
    groups: Sequence[str],
    labels: Sequence[str],
    pos: int,
    threshold: float,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> dict:
    """Percentile bootstrap intervals (level :data:`CI_LEVEL`) for every metric, resampling whole groups.

    Args:
        y, probs, labels, pos, threshold: as for :func:`point_metrics`.
        groups: (N,) group id per case (see :func:`group_resamples`).
        n_resamples: number of resamples.
        seed: seeds :func:`numpy.random.default_rng`; the same seed gives the same intervals.

    Returns:
        ``{metric: [low, high], "per_class": {label: {precision|recall|f1: [low, high]}}}``; [NaN, NaN] where
        the metric is defined in fewer than :data:`MIN_VALID_RESAMPLE_FRACTION` of the resamples.
    """
    samples = bootstrap_samples(
        lambda idx: _leaves(point_metrics(y[idx], probs[idx], labels, pos, threshold)[0]),
        groups,
        n_resamples,
        seed,
    )
    out: dict = {"per_class": {label: {} for label in labels}}
    for key, values in samples.items():
        low_high = percentile_interval(values, n_resamples)
        if key[0] == "per_class":
            out["per_class"][key[1]][key[2]] = low_high
        else:
            out[key[0]] = low_high
    return out


def record_arrays(
    records: pd.DataFrame, labels: Sequence[str], calibrated: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """True class indices (N,) and probabilities (N, K) from per-case records.

    Args:
        records: per-case records as for :func:`compute_metrics`.
        labels: K class names in index order.
        calibrated: read the ``pcal_`` columns instead of ``p_``.

    Raises:
        ValueError: a probability column is missing, or a true label is not one of ``labels``.
    """
    columns = probability_columns(labels, calibrated)
    missing = [c for c in ["label", *columns] if c not in records.columns]
    if missing:
        what = "calibrated probabilities (fit a temperature first)" if calibrated else "columns"
        raise ValueError(f"records lack {what}: {missing}; regenerate them with python -m model.evaluate.")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(records["label"]) - set(index))
    if unknown:
        raise ValueError(f"records hold labels {unknown} that are not among {list(labels)}.")
    return records["label"].map(index).to_numpy(np.int64), records[columns].to_numpy(np.float64)


def _scored_arrays(
    records: pd.DataFrame, labels: Sequence[str], positive: str, threshold: float, calibrated: bool
) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """(y, probs, index of ``positive``) of records, after checking the positive class and the threshold."""
    if positive not in labels:
        raise ValueError(f"positive class '{positive}' is not one of {list(labels)}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}.")
    y, probs = record_arrays(records, labels, calibrated)
    return y, probs, list(labels).index(positive)


def confusion_at(
    records: pd.DataFrame,
    labels: Sequence[str],
    positive: str = POSITIVE_LABEL,
    threshold: float = 0.5,
    calibrated: bool = False,
) -> NDArray[np.int64]:
    """Confusion counts of per-case records at one threshold, without intervals (fast: no bootstrap).

    Args:
        records: per-case records as for :func:`compute_metrics`.
        labels: K class names in index order.
        positive: the positive class; predicted when its probability >= ``threshold``.
        threshold: decision threshold in [0, 1].
        calibrated: use the temperature-scaled probabilities.

    Returns:
        (K, K) int64 counts, rows = true label, columns = predicted label (as ``compute_metrics``).

    Raises:
        ValueError: unknown positive class, missing columns or a threshold outside [0, 1].
    """
    y, probs, pos = _scored_arrays(records, labels, positive, threshold, calibrated)
    return _confusion(y, predict_indices(probs, pos, threshold), len(labels))


def compute_metrics(
    records: pd.DataFrame,
    labels: Sequence[str],
    positive: str = POSITIVE_LABEL,
    threshold: float = 0.5,
    calibrated: bool = False,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> dict:
    """Every metric of a saved evaluation, with group-bootstrap intervals, from per-case records.

    Args:
        records: one row per case with ``label`` (true label), ``group`` (duplicate group; each case its own
            group when absent) and ``p_<label>`` (or ``pcal_<label>`` when ``calibrated``) per class.
        labels: K class names in index order.
        positive: the class treated as positive for sensitivity, specificity, ROC/PR-AUC and Brier.
        threshold: predict ``positive`` when its probability >= threshold, in [0, 1].
        calibrated: use the temperature-scaled probabilities.
        n_resamples: bootstrap resamples; 0 skips the intervals (``ci95`` is None).
        seed: bootstrap seed.

    Returns:
        ``{"threshold", "n", "n_groups", "metrics", "ci95", "undefined", "confusion", "reliability",
        "bootstrap"}``. ``metrics`` holds :data:`SCALARS` and ``per_class[label]`` (precision, recall, f1,
        support); ``ci95`` mirrors it with [low, high]; ``undefined`` names the reason of each NaN;
        ``confusion`` is a K x K list of counts, rows = true label, columns = predicted label;
        ``reliability`` holds ``top_label`` and ``positive`` bins (see :func:`reliability_bins`).

    Raises:
        ValueError: no records, unknown labels or positive class, missing columns, threshold outside [0, 1].

    Example::

        >>> import pandas as pd
        >>> records = pd.DataFrame(
        ...     {"label": ["tumor", "no tumor", "tumor", "no tumor"],
        ...      "p_no tumor": [0.2, 0.9, 0.6, 0.7], "p_tumor": [0.8, 0.1, 0.4, 0.3]}
        ... )
        >>> out = compute_metrics(records, ["no tumor", "tumor"], n_resamples=0)
        >>> out["metrics"]["accuracy"], out["metrics"]["sensitivity"], out["confusion"]
        (0.75, 0.5, [[2, 0], [1, 1]])
    """
    if len(records) == 0:
        raise ValueError("no records to score: the split or folder is empty.")
    y, probs, pos = _scored_arrays(records, labels, positive, threshold, calibrated)
    groups = records["group"].astype(str).tolist() if "group" in records else [str(i) for i in range(len(y))]
    metrics, undefined, cm = point_metrics(y, probs, labels, pos, threshold)
    ci = None
    if n_resamples:
        ci = bootstrap_intervals(y, probs, groups, labels, pos, threshold, n_resamples, seed)
    return {
        "threshold": float(threshold),
        "n": int(y.size),
        "n_groups": len(set(groups)),
        "metrics": metrics,
        "ci95": ci,
        "undefined": undefined,
        "confusion": cm.tolist(),
        "reliability": {
            "top_label": reliability_bins(records, labels, calibrated),
            "positive": reliability_bins(records, labels, calibrated, positive),
        },
        "bootstrap": bootstrap_record(n_resamples, seed),
    }


def reliability_bins(
    records: pd.DataFrame,
    labels: Sequence[str],
    calibrated: bool = False,
    positive: str | None = None,
    n_bins: int = N_RELIABILITY_BINS,
) -> list[dict[str, float]]:
    """Reliability-diagram bins: equal-width [i/n, (i+1)/n) (the last closed), empty bins included.

    Args:
        records, labels, calibrated: as for :func:`compute_metrics`.
        positive: None bins the top-label confidence (``confidence`` = mean max probability, ``accuracy`` =
            share of argmax predictions that are right; the ECE uses these bins). A class name bins that
            class's probability instead (``confidence`` = its mean, ``accuracy`` = share of cases of that
            class).
        n_bins: number of bins.

    Returns:
        n_bins dicts ``{lower, upper, count, confidence, accuracy}``; confidence/accuracy NaN in empty bins.
    """
    y, probs = record_arrays(records, labels, calibrated)
    if positive is None:
        conf, hit = probs.max(axis=1), probs.argmax(axis=1) == y
    else:
        pos = list(labels).index(positive)
        conf, hit = probs[:, pos], y == pos
    count, mean_conf, mean_hit = _bins(conf, hit, n_bins)
    return [
        {
            "lower": i / n_bins,
            "upper": (i + 1) / n_bins,
            "count": int(count[i]),
            "confidence": float(mean_conf[i]),
            "accuracy": float(mean_hit[i]),
        }
        for i in range(n_bins)
    ]


def _scores(
    records: pd.DataFrame, labels: Sequence[str], positive: str, calibrated: bool
) -> tuple[NDArray, NDArray]:
    y, probs = record_arrays(records, labels, calibrated)
    pos = list(labels).index(positive)
    return probs[:, pos], y == pos


def roc_curve_points(
    records: pd.DataFrame, labels: Sequence[str], positive: str = POSITIVE_LABEL, calibrated: bool = False
) -> pd.DataFrame:
    """ROC curve: one row per distinct positive probability, from (0, 0) at threshold +inf to (1, 1).

    Args:
        records: per-case records as for :func:`compute_metrics`.
        labels: K class names in index order.
        positive: the class whose probability is thresholded.
        calibrated: use the temperature-scaled probabilities.

    Returns:
        Frame with ``threshold`` (predict positive when p >= threshold), ``fpr`` and ``tpr`` in [0, 1]; a rate
        is NaN when its class is absent.
    """
    scores, is_pos = _scores(records, labels, positive, calibrated)
    thresholds, tp, fp = _ranked_counts(scores, is_pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr, fpr = np.r_[0, tp] / is_pos.sum(), np.r_[0, fp] / (~is_pos).sum()
    return pd.DataFrame({"threshold": np.r_[np.inf, thresholds], "fpr": fpr, "tpr": tpr})


def pr_curve_points(
    records: pd.DataFrame, labels: Sequence[str], positive: str = POSITIVE_LABEL, calibrated: bool = False
) -> pd.DataFrame:
    """Precision-recall curve: one row per distinct positive probability, after (recall 0, precision 1).

    Args:
        records, labels, positive, calibrated: as for :func:`roc_curve_points`.

    Returns:
        Frame with ``threshold``, ``recall`` and ``precision``; recall is NaN when no case is positive. The
        step area (recall steps x precision) is :func:`average_precision`.
    """
    scores, is_pos = _scores(records, labels, positive, calibrated)
    thresholds, tp, fp = _ranked_counts(scores, is_pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.r_[0.0, tp / is_pos.sum()]
    precision = np.r_[1.0, tp / (tp + fp)]
    return pd.DataFrame({"threshold": np.r_[np.inf, thresholds], "recall": recall, "precision": precision})

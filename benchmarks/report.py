"""Benchmark rows, target checks, and the two outputs: ``results.json`` and the ``RESULTS.md`` table."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1
JSON_FILE = "results.json"
MARKDOWN_FILE = "RESULTS.md"
OPS = {"<=": lambda v, b: v <= b, ">=": lambda v, b: v >= b}


@dataclass(frozen=True)
class Check:
    """One target condition, e.g. ``speed-up vs Captum default >= 2``.

    Attributes:
        what: the measured quantity, in words.
        value: its value in this run (NaN when it could not be measured).
        op: ``"<="`` or ``">="``.
        bound: the target.
    """

    what: str
    value: float
    op: str
    bound: float

    @property
    def met(self) -> bool:
        """True when the value satisfies the target (a NaN value never does)."""
        return not math.isnan(self.value) and OPS[self.op](self.value, self.bound)

    def target(self) -> str:
        """``op bound``, e.g. ``≤ 1.1``."""
        return f"{self.op.replace('<=', '≤').replace('>=', '≥')} {self.bound:g}"

    def text(self) -> str:
        """``what op bound`` for the table."""
        return f"{self.what} {self.target()}"


@dataclass
class Row:
    """One measured line of the table.

    Attributes:
        id: stable key (e.g. ``"ig.project"``); the smoke test checks that every expected id is present.
        section: table section (forward, explanations, panel, evaluation, memory).
        what: what was run, with its parameters.
        time_s: median wall-clock seconds (None for rows that are not timings).
        ratio: ``time_s`` / one forward pass of the same run (None where meaningless).
        agreement: Spearman rank correlation of the map with the method's reference map (None if no map).
        value: a non-time figure (images/s, MiB, %), with ``unit``.
        unit: unit of ``value``.
        peak_mib: how much the benchmark process's resident memory rose while this ran, at peak, MiB.
        runs_s: every timed run behind ``time_s`` (JSON only: shows how noisy the machine was).
        checks: the targets this row is judged on.
        note: why a target is missed, or what to keep in mind.
    """

    id: str
    section: str
    what: str
    time_s: float | None = None
    ratio: float | None = None
    agreement: float | None = None
    value: float | None = None
    unit: str = ""
    peak_mib: float | None = None
    runs_s: tuple[float, ...] = ()
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    @property
    def met(self) -> bool | None:
        """All checks met (None when the row has no target)."""
        return all(c.met for c in self.checks) if self.checks else None

    def to_dict(self) -> dict:
        """JSON-ready copy with each check's verdict and the row's."""
        d = asdict(self)
        d["checks"] = [{**asdict(c), "met": c.met} for c in self.checks]
        d["met"] = self.met
        return d


@dataclass
class ModelResult:
    """All rows for one model (or the reason it was skipped)."""

    name: str
    source: str
    rows: list[Row] = field(default_factory=list)
    skipped: str = ""
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready copy."""
        return {
            "name": self.name,
            "source": self.source,
            "skipped": self.skipped,
            "facts": self.facts,
            "rows": [r.to_dict() for r in self.rows],
        }


def _num(x: float | None, fmt: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return format(x, fmt)


def _time(t: float | None) -> str:
    if t is None or math.isnan(t):
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def _verdict(row: Row) -> str:
    if row.met is None:
        return ""
    marks = "; ".join(f"{c.text()}: {_num(c.value, '.3g')} {'✅' if c.met else '❌'}" for c in row.checks)
    return ("met: " if row.met else "**MISSED**: ") + marks


def model_table(result: ModelResult) -> list[str]:
    """Markdown lines for one model: a heading and one table row per :class:`Row`."""
    lines = [f"### {result.name}", "", f"Model: {result.source}."]
    if result.skipped:
        return lines + ["", f"Skipped: {result.skipped}", ""]
    facts = result.facts
    lines += [
        f"Input for the maps and the panel: {facts.get('input')}, explaining class "
        f"{facts.get('explained_class')}; weights fingerprint `{facts.get('fingerprint')}`."
    ]
    if "forward_end_s" in facts:
        lines += [
            f"Forward pass at the start / end of this model's run: {_time(facts['forward_start_s'])} / "
            f"{_time(facts['forward_end_s'])} (a large difference means the machine's speed changed)."
        ]
    lines.append("")
    lines += [
        "| id | what | time | × forward | Spearman vs ref | value | extra RSS | target | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result.rows:
        value = f"{_num(r.value, '.4g')} {r.unit}".strip() if r.value is not None else "—"
        cells = [
            f"`{r.id}`",
            r.what,
            _time(r.time_s),
            _num(r.ratio, ".2f"),
            _num(r.agreement, ".3f"),
            value,
            f"{_num(r.peak_mib, '.0f')} MiB" if r.peak_mib else "—",
            _verdict(r),
            r.note,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return lines + [""]


def write_results(out_dir: str | Path, header: dict, models: list[ModelResult], preamble: list[str]) -> Path:
    """Write ``results.json`` and ``RESULTS.md`` into ``out_dir`` (created).

    Args:
        out_dir: output folder.
        header: run-level facts (machine, settings, timestamps), stored under the JSON's top level.
        models: one :class:`ModelResult` per model measured.
        preamble: markdown lines placed before the tables (how to run, machine, method, FLOP bound).

    Returns:
        The folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"schema_version": SCHEMA_VERSION, **header, "models": [m.to_dict() for m in models]}
    text = json.dumps(_finite(payload), indent=2, allow_nan=False, default=_json_default)
    (out / JSON_FILE).write_text(text + "\n")
    lines = list(preamble)
    for m in models:
        lines += model_table(m)
    (out / MARKDOWN_FILE).write_text("\n".join(lines).rstrip() + "\n")
    return out


def _finite(x: object) -> object:
    """Copy of a JSON-like structure with NaN/inf floats replaced by None (strict JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _json_default(x: object) -> object:
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")

"""Generated command lines: every CLI keeps today's options, defaults and help; the runner's exit codes."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from model.cli import ConfigCli, build_parser, exit_status, parse_config, raise_as, run_cli
from model.errors import MriExplainError

BASELINE = Path(__file__).parents[2] / "golden" / "cli_options.json"
# Deliberate changes against the parsers captured before issue 16: --arch has one default (the dataclass's).
CHANGED = {
    ("model.train.run", "--arch"): {"default": "base", "help": "from-scratch size (default: %(default)s)"}
}
FLAGS = ("_StoreTrueAction", "_StoreFalseAction")
# New: --config PATH re-runs a recorded run.
RERUN = {
    "options": ["--config"],
    "default": None,
    "type": "Path",
    "choices": None,
    "nargs": None,
    "required": False,
    "help": "re-run the run recorded in this training_config.json (options given as well override it)",
    "action": "_StoreAction",
    "metavar": "PATH",
}
ADDED = {"model.train.run": [RERUN], "model.train.finetune": [RERUN]}


def _describe(module: str, parser: argparse.ArgumentParser) -> list[dict]:
    """Each action's options, default, type, choices, nargs, required, help and metavar (as captured)."""
    out: list[dict] = []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if isinstance(a, argparse._SubParsersAction):
            out += [{"subcommand": n, "actions": _describe(module, sp)} for n, sp in a.choices.items()]
            continue
        default = list(a.default) if isinstance(a.default, tuple) else a.default
        row = {
            "options": list(a.option_strings) or [a.dest],
            "default": str(default) if isinstance(default, Path) else default,
            "type": getattr(a.type, "__name__", None),
            "choices": list(a.choices) if a.choices else None,
            "nargs": a.nargs,
            "required": a.required,
            "help": a.help,
            "action": "flag" if type(a).__name__ in FLAGS else type(a).__name__,
            "metavar": a.metavar,
        }
        if row["action"] == "flag":
            del row["default"], row["nargs"]
        out.append(row)
    return out


def _baseline(module: str) -> list[dict]:
    def norm(rows: list[dict]) -> list[dict]:
        done = []
        for r in rows:
            if "subcommand" in r:
                done.append({"subcommand": r["subcommand"], "actions": norm(r["actions"])})
                continue
            r = {k: v for k, v in r.items() if k != "dest"} | {"options": r["options"] or [r["dest"]]}
            r |= {"type": None} if r["type"] == "str" else {}  # type=str and no type parse the same
            r |= CHANGED.get((module, r["options"][0]), {})
            if r["action"] in FLAGS:
                r = {k: v for k, v in r.items() if k not in ("default", "nargs")} | {"action": "flag"}
            done.append(r)
        return done

    return norm(json.loads(BASELINE.read_text())[module]["actions"]) + ADDED.get(module, [])


@pytest.mark.parametrize("module", sorted(json.loads(BASELINE.read_text())))
def test_generated_parser_keeps_todays_options(module: str) -> None:
    parser = importlib.import_module(module).cli_parser()
    key = lambda r: r.get("subcommand") or r["options"][0]  # noqa: E731
    got, want = sorted(_describe(module, parser), key=key), sorted(_baseline(module), key=key)
    assert got == want


@dataclass(frozen=True)
class _Cfg:
    path: Path = field(default=Path("a"), metadata={"help": "a path"})
    mode: Literal["x", "y"] = "x"
    betas: tuple[float, float] = (0.5, 0.25)
    quiet: bool = False
    crop: bool = field(default=True, metadata={"flag": "--no-crop"})
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be >= 1")


def test_fields_become_typed_options() -> None:
    parser = build_parser(_Cfg, prog="x")
    assert parse_config(parser, []) == _Cfg()
    cfg = parse_config(parser, ["--path", "b", "--mode", "y", "--betas", "1", "2", "--quiet", "--no-crop"])
    assert cfg == _Cfg(Path("b"), "y", (1.0, 2.0), True, False, None)
    assert parse_config(parser, ["--limit", "3"]).limit == 3
    with pytest.raises(SystemExit):
        parse_config(parser, ["--mode", "z"])
    with pytest.raises(ValueError, match="--limit"):
        parse_config(parser, ["--limit", "0"])
    assert "a path" in parser.format_help()


def _raises(exc: BaseException):
    def main(argv: list[str] | None) -> int:
        raise exc

    return main


@pytest.mark.parametrize(
    ("main", "code"),
    [
        (lambda argv: 0, 0),
        (lambda argv: 3, 3),
        (_raises(MriExplainError("The manifest is missing.", fix="run python -m model.data split")), 2),
        (_raises(KeyboardInterrupt()), 130),
    ],
)
def test_run_cli_exit_codes(main, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [])
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        assert err == "error: The manifest is missing. Fix: run python -m model.data split\n"


def test_run_cli_lets_unexpected_errors_through() -> None:
    with pytest.raises(ZeroDivisionError):
        run_cli(_raises(ZeroDivisionError()), [])


class _ProjectValueError(MriExplainError, ValueError):
    """A project error that is also a ValueError (as ScanError is)."""


def test_raise_as_turns_the_named_builtins_into_the_project_error() -> None:
    with pytest.raises(_ProjectValueError) as err:
        with raise_as(_ProjectValueError, ValueError, OSError):
            raise FileNotFoundError("No such file: 'a.csv'")
    assert str(err.value) == "No such file: 'a.csv'" and isinstance(err.value.__cause__, FileNotFoundError)


def test_raise_as_passes_project_errors_and_other_builtins_unchanged() -> None:
    original = _ProjectValueError("already a project error")
    with pytest.raises(_ProjectValueError) as err:
        with raise_as(MriExplainError, ValueError):
            raise original
    assert err.value is original
    with pytest.raises(KeyError):
        with raise_as(MriExplainError, ValueError):
            raise KeyError("not named")


def test_exit_status_is_what_run_cli_exits_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(_raises(MriExplainError("Bad input.")), []) == 2
    assert capsys.readouterr().err == "error: Bad input.\n"
    assert exit_status(lambda argv: 1, []) == 1


def test_config_cli_parses_its_config_and_exits_2_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    @dataclass(frozen=True)
    class Cfg:
        out: str = field(metadata={"help": "output folder"})
        seed: int = field(default=0, metadata={"help": "seed"})

    cli = ConfigCli(Cfg, "python -m x", "Do x.")
    assert cli.parse(["--out", "o", "--seed", "3"]) == Cfg(out="o", seed=3)
    with pytest.raises(SystemExit) as exit_info:
        cli.parse(["--seed", "3"])
    assert exit_info.value.code == 2 and "usage: python -m x" in capsys.readouterr().err

"""Command lines generated from frozen config dataclasses, and the one runner of every ``main()``.

Each option is one dataclass field (as the HF image-classification example's ``HfArgumentParser`` does): the
flag is ``--field-name``, the type, default and choices (``Literal``) come from the field, and the help text
from ``field(metadata={"help": ...})``; a field without a default is a required option. Other metadata keys
shape the option where the command line differs from that rule:

- ``flag``: the option string (``"--no-crop-brain"`` for a ``True`` bool: it then stores ``False``);
- ``positional``: a positional argument instead of an option;
- ``nargs``, ``metavar``, ``action`` (``"append"``), ``choices``, ``type`` (a parser callable);
- ``cli_default``: the parser's default where it differs from the field's (``--aug`` collects ``[]``);
- ``convert``: maps the parsed value to the field's value (``["strength=0"]`` -> ``AugmentConfig``);
- ``group``: ``(title, description)`` of the argument group the option is listed under;
- ``one_of``: name of a required mutually exclusive group (exactly one of its options must be given);
- ``flatten``: the field is itself a config dataclass whose fields become options;
- ``cli``: ``False`` keeps the field off the command line (its default, or the recorded value, is used).

:func:`add_config_file` adds ``--config PATH`` (re-run a recorded run), and :func:`run_cli` runs a ``main``:
a :class:`~model.errors.MriExplainError` ends in one line on stderr and exit 2, Ctrl-C in exit 130. So a
``main`` handles no error itself; :func:`raise_as` turns the builtin errors of a block into a project error.

Example::

    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Cfg:
    ...     seed: int = field(default=0, metadata={"help": "seed"})
    >>> parse_config(build_parser(Cfg, prog="x"), ["--seed", "3"])
    Cfg(seed=3)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, NoReturn, TypeVar

from model.errors import MriExplainError

_CONFIG = "_config_class"
_READ = "_config_reader"
_FILE = "_config_file"
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
ConfigT = TypeVar("ConfigT")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else str
    return tp


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _type_options(tp: Any) -> dict[str, Any]:
    """``type``/``choices``/``nargs`` of one annotation (Literal, tuple, list, Path, int, float, str)."""
    tp = _unwrap_optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return {"choices": args} if isinstance(args[0], str) else {"choices": args, "type": type(args[0])}
    if origin in (tuple, list):
        item = _type_options(args[0])
        nargs = len(args) if origin is tuple and Ellipsis not in args else "+"
        return {**item, "nargs": nargs}
    return {"type": tp} if tp in (int, float, Path) else {}


def _kwargs(f: dataclasses.Field, tp: Any) -> dict[str, Any]:
    """``add_argument`` keywords of one field; a field without a default is a required option."""
    meta = f.metadata
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    default = meta.get("cli_default", None if required else _field_default(f))
    kw: dict[str, Any] = {"help": meta.get("help")}
    if _unwrap_optional(tp) is bool:
        kw["action"] = "store_false" if default else "store_true"
        return kw
    kw.update(_type_options(tp), default=list(default) if isinstance(default, tuple) else default)
    kw.update({key: meta[key] for key in ("nargs", "metavar", "action", "choices", "type") if key in meta})
    if meta.get("action") == "append":
        kw.pop("nargs", None)
    if meta.get("positional"):
        del kw["default"]
    elif required:
        kw["required"] = True
        del kw["default"]
    return kw


def _target(parser: argparse.ArgumentParser, groups: dict[str, Any], meta: Any) -> Any:
    """The parser, argument group or required exclusive group an option is added to (created once)."""
    target: Any = parser
    if "group" in meta:
        title, description = meta["group"]
        if title not in groups:
            groups[title] = parser.add_argument_group(title, description)
        target = groups[title]
    if "one_of" in meta:
        key = f"one_of:{meta['one_of']}"
        if key not in groups:
            groups[key] = target.add_mutually_exclusive_group(required=True)
        target = groups[key]
    return target


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one option per field of the frozen dataclass ``cls`` (see the module docstring) to ``parser``.

    Args:
        parser: the parser (or subcommand parser) to extend.
        cls: a dataclass type; nested ``flatten`` fields add their own fields.
    """
    _add_fields(parser, cls, {})
    parser.set_defaults(**{_CONFIG: cls})


def _add_fields(parser: argparse.ArgumentParser, cls: type, groups: dict[str, Any]) -> None:
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("flatten"):
            _add_fields(parser, hints[f.name], groups)
            continue
        if meta.get("cli") is False:
            continue
        target = _target(parser, groups, meta)
        kw = _kwargs(f, hints[f.name])
        if meta.get("positional"):
            target.add_argument(f.name, **kw)
        else:
            target.add_argument(meta.get("flag", f"--{f.name.replace('_', '-')}"), dest=f.name, **kw)


def build_parser(
    cls: type, *, prog: str | None = None, description: str | None = None
) -> argparse.ArgumentParser:
    """A parser with one option per field of the frozen dataclass ``cls``.

    Args:
        cls: the config dataclass.
        prog: program name shown in usage (``python -m model.train``).
        description: first paragraph of the help.

    Returns:
        The parser; read it with :func:`parse_config`.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_config_arguments(parser, cls)
    return parser


def add_subcommands(parser: argparse.ArgumentParser, commands: dict[str, tuple[type, str]]) -> None:
    """Add one required subcommand per entry ``name -> (config class, help)``; each parses into its class.

    Args:
        parser: the top-level parser.
        commands: subcommand name -> (config dataclass, help text).
    """
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (cls, help_text) in commands.items():
        add_config_arguments(sub.add_parser(name, help=help_text), cls)


def add_config_file(parser: argparse.ArgumentParser, read: Callable[[Path], Any], help_text: str) -> None:
    """Add ``--config PATH``: start from the config ``read(PATH)`` returns; options given as well override it.

    Args:
        parser: from :func:`build_parser`.
        read: loads a recorded config (an instance of the parser's config class, or of a ``flatten`` field's).
        help_text: the option's help.
    """
    parser.add_argument("--config", dest=_FILE, type=Path, default=None, metavar="PATH", help=help_text)
    parser.set_defaults(**{_READ: read})


def _given(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """Names of the options present in ``argv`` (parsed again with every default suppressed)."""
    saved = [(a, a.default) for a in parser._actions]
    try:
        for a, _ in saved:
            a.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for a, default in saved:
            a.default = default


def _value(f: dataclasses.Field, tp: Any, values: dict[str, Any]) -> Any:
    value = values[f.name]
    if "convert" in f.metadata:
        return f.metadata["convert"](value)
    if isinstance(value, list) and typing.get_origin(_unwrap_optional(tp)) is tuple:
        return tuple(value)
    return value


def _build(cls: type, values: dict[str, Any], given: set[str], recorded: Any) -> Any:
    own = recorded if isinstance(recorded, cls) else None
    kw: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            kw[f.name] = _build(hints[f.name], values, given, recorded)
        elif f.metadata.get("cli") is False:
            if own is not None:
                kw[f.name] = getattr(own, f.name)
        elif own is not None and f.name not in given:
            kw[f.name] = getattr(own, f.name)
        else:
            kw[f.name] = _value(f, hints[f.name], values)
    return cls(**kw)


def config_from_namespace(cls: type, values: dict[str, Any]) -> Any:
    """Build ``cls`` from parsed option values, applying each field's ``convert`` and nested ``flatten``.

    Args:
        cls: the config dataclass.
        values: ``vars()`` of the parsed namespace.

    Returns:
        The validated config (its ``__post_init__`` runs).

    Raises:
        ValueError: a value is invalid (raised by the config or a ``convert``).
    """
    return _build(cls, values, set(), None)


def parse_config(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> Any:
    """Parse ``argv`` into the config of the parser (or of the chosen subcommand).

    With ``--config PATH`` (:func:`add_config_file`), the recorded config is the start and only the options
    present in ``argv`` replace its values, so ``--config run/training_config.json`` alone re-creates it.

    Args:
        parser: from :func:`build_parser` or :func:`add_subcommands`.
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The config dataclass instance.

    Raises:
        ValueError: the values do not make a valid config, or the recorded one cannot be read.
    """
    values = vars(parser.parse_args(argv))
    cls, read, path = values.pop(_CONFIG), values.pop(_READ, None), values.pop(_FILE, None)
    if read is None or path is None:
        return _build(cls, values, set(), None)
    return _build(cls, values, _given(parser, argv), read(path))


def parse_config_or_usage(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> Any:
    """:func:`parse_config`, but an invalid config exits 2 with the usage and its message (argparse's way).

    Args:
        parser: from :func:`build_parser`.
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The validated config.

    Raises:
        SystemExit: 2, after printing the usage and the config's message to stderr.
    """
    try:
        return parse_config(parser, None if argv is None else list(argv))
    except ValueError as err:
        parser.error(str(err))


@dataclasses.dataclass(frozen=True)
class ConfigCli(Generic[ConfigT]):
    """One CLI generated from a frozen config: its parser and its ``parse_args`` (usage + exit 2 on error).

    A module binds the two to its public names (``cli_parser = CLI.parser``, ``parse_args = CLI.parse``).

    Args:
        config: the config dataclass the command line fills.
        prog: program name shown in usage (``python -m model.evaluate``).
        description: first paragraph of the help.

    Example::

        >>> from dataclasses import dataclass, field
        >>> @dataclass(frozen=True)
        ... class Cfg:
        ...     seed: int = field(default=0, metadata={"help": "seed"})
        >>> ConfigCli(Cfg, "x").parse(["--seed", "3"])
        Cfg(seed=3)
    """

    config: type[ConfigT]
    prog: str
    description: str | None = None

    def parser(self) -> argparse.ArgumentParser:
        """A new parser with one option per field of :attr:`config` (:func:`build_parser`).

        Returns:
            The parser.
        """
        return build_parser(self.config, prog=self.prog, description=self.description)

    def parse(self, argv: Sequence[str] | None = None) -> ConfigT:
        """The job's config from the command line; invalid options exit 2 with the usage (argparse's way).

        Args:
            argv: arguments without the program name (``None``: ``sys.argv[1:]``).

        Returns:
            The validated config.

        Raises:
            SystemExit: 2, after printing the usage and the message to stderr.
        """
        return parse_config_or_usage(self.parser(), argv)


@contextlib.contextmanager
def raise_as(error: type[MriExplainError], *caught: type[Exception]) -> Iterator[None]:
    """Re-raise the ``caught`` builtin errors of the block as ``error`` with the same message.

    Project errors pass unchanged, even those that also subclass a caught builtin (``ValueError``).

    Args:
        error: the project error to raise (its message is ``str()`` of the builtin one).
        caught: the builtin exception types to convert (``FileNotFoundError``, ``ValueError``, ``OSError``).

    Returns:
        A context manager.

    Raises:
        error: the block raised one of ``caught`` (chained to it).

    Example::

        >>> from model.errors import MriExplainError
        >>> try:
        ...     with raise_as(MriExplainError, ValueError):
        ...         int("x")
        ... except MriExplainError as err:
        ...     print(err)
        invalid literal for int() with base 10: 'x'
    """
    try:
        yield
    except MriExplainError:
        raise
    except caught as err:
        raise error(str(err)) from err


def exit_status(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run one CLI's ``main`` and return its status; expected errors end in one line, never a traceback.

    Args:
        main: the CLI's ``main(argv) -> exit status``.
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        2 after a :class:`~model.errors.MriExplainError` (its message on stderr as ``error: ...``), 130 after
        Ctrl-C, otherwise ``main``'s status.
    """
    try:
        return main(argv)
    except MriExplainError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> NoReturn:
    """Run one CLI's ``main`` and exit with its status (:func:`exit_status`).

    Args:
        main: the CLI's ``main(argv) -> exit status``.
        argv: arguments (``None``: ``sys.argv[1:]``).

    Raises:
        SystemExit: always, with :func:`exit_status`'s code.
    """
    sys.exit(exit_status(main, argv))

"""Shared plumbing for the thin CLIs in scripts/: logging, and one `error: …` line for user errors.

A FacematchError (bad data, model, asset, option) or a bad path is the user's to fix: it is
printed as one line and the script exits 1. Anything else is a bug in Facematch and keeps its
traceback, so it can be reported.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import fields

from facematch.errors import ConfigError, FacematchError

# Paths that do not exist, are not what was expected, or cannot be read or written.
PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


class CliError(ConfigError):
    """A user-facing error raised by a script itself (a bad combination of options)."""


def configure_logging(verbose: bool = False) -> None:
    """Library messages (progress notes, warnings) go to stderr, one plain line each."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("absl", "tensorflow", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(main: Callable[[], int | None]) -> None:
    """Run a script's main(); expected failures exit 1 with `error: ...` on stderr."""
    configure_logging()
    try:
        code = main()
    except (FacematchError, *PATH_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: nothing was written under the output's final name", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def add_config_options(parser: argparse.ArgumentParser, config_class, skip: tuple[str, ...] = ()) -> None:
    """One --option per field of a config dataclass (underscores as dashes), defaulting to the field's default."""
    defaults = config_class()
    for f in fields(config_class):
        if f.name in skip:
            continue
        value = getattr(defaults, f.name)
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(value, bool):  # --x / --no-x: argparse's type=bool would read "False" as True
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"default: {value}")


def config_from(args: argparse.Namespace, config_class, **overrides):
    """The config dataclass filled from parsed options (and overrides for the fields not given as options)."""
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class) if f.name not in overrides},
                        **overrides)

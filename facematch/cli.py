"""Shared plumbing for the thin CLIs in scripts/: one-line errors, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from facematch.assets import AssetError
from facematch.dataset import DatasetError


class CliError(Exception):
    """A user-facing error raised by a script itself."""


def run(main: Callable[[], int | None]) -> None:
    """Run a script's main(); expected failures exit 1 with `error: ...` on stderr."""
    from facematch.classifier import ModelError  # light import: LiteRT, not TensorFlow
    from facematch.features import WeightsError

    try:
        code = main()
    except (CliError, DatasetError, AssetError, ModelError, WeightsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: nothing was written under the output's final name", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)

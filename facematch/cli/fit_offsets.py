"""Fit per-class offsets on PublicTest so the classes the judge misses most are not left behind.

    facematch fit-offsets data/models/fer_ens_live/ data/processed/fer2013/ data/models/fer_ens_offsets/ \
        --floor fear=0.57 sad=0.57 angry=0.57 --max-accuracy-drop 0.01 --maximise accuracy
    # then: facematch evaluate (the card and PrivateTest)

Writes OUTPUT: the model directory with `class_offsets` in its spec: numbers added to the log-probabilities of
the named classes inside predict() (the live single pass too), chosen to raise those classes'
mean PublicTest recall (--maximise accuracy: overall accuracy) while overall PublicTest accuracy
falls by at most --max-accuracy-drop and none of them falls below its --floor (default: its recall
before), on predict() and on the live path the game plays. With --path predict, predict()'s offsets are
fitted and bounded on its own views alone and the live game keeps the offsets it plays now (rule R35).
PrivateTest is not read.
"""

import argparse
import json

from facematch import cli
from facematch.pipeline.evaluation import OFFSET_PATHS, fit_offsets


def _pairs(items: list[str], option: str, form: str) -> dict[str, float]:
    """NAME=FRACTION items as a dict; a one-line error for anything else."""
    pairs = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            pairs[name] = float(value)
        except ValueError:
            raise cli.CliError(f"{option} takes {form} with {form.split('=')[1]} a fraction, got {item!r}") from None
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch fit-offsets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + spec.json), only read")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--classes", nargs="+", default=["fear", "sad", "angry"])
    parser.add_argument("--max-accuracy-drop", type=float, default=0.0065,
                        help="largest fall in overall PublicTest accuracy allowed (default 0.0065: paired noise)")
    parser.add_argument("--floor", nargs="+", default=[], metavar="CLASS=RECALL",
                        help="recall a class may not fall below, e.g. fear=0.4577 (default: its recall before)")
    parser.add_argument("--maximise", choices=["recall", "accuracy"], default="recall",
                        help="what the offsets buy within the bounds: the named classes' mean recall (default) "
                             "or overall accuracy (with --floor as the recall those classes must keep)")
    parser.add_argument("--keep-agreement", action="store_true",
                        help="the offsets may not make either path change its verdict more often when the faces "
                             "come enlarged to 96 px (bilinear, bicubic) than without them (rule R15)")
    parser.add_argument("--agreement-floor", nargs="+", default=[], metavar="NAME=SHARE",
                        help="as --keep-agreement, with these floors instead of the share without offsets, e.g. "
                             "another judge's: bilinear=0.9574 bicubic=0.9852 live-bilinear=0.9454 "
                             "live-bicubic=0.9808 (rule R16)")
    parser.add_argument("--path", choices=OFFSET_PATHS, default="both",
                        help="both (default): one set of offsets, bounded on predict() and as played live; "
                             "predict: predict()'s own, fitted on its views alone, the live game's kept (R35)")
    args = parser.parse_args(argv)
    if not 0 <= args.max_accuracy_drop < 1:
        raise cli.CliError("--max-accuracy-drop is a fraction between 0 and 1")
    fitted = fit_offsets(args.model_dir, args.processed, args.output, args.classes, args.max_accuracy_drop,
                         _pairs(args.floor, "--floor", "CLASS=RECALL"), args.maximise, args.keep_agreement,
                         _pairs(args.agreement_floor, "--agreement-floor", "NAME=SHARE"), args.path)
    print(json.dumps(fitted, indent=2))
    return 0


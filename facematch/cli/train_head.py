"""Cached VGG16 features → trained head → whole network (a model directory: model.keras, model.tflite, spec.json).

    facematch train-head data/interim/ data/models/fer_vgg16_head/ data/logs/run1
"""

import argparse
import json

from facematch import cli
from facematch.model_spec import plain
from facematch.pipeline.configs import TrainConfig
from facematch.pipeline.training import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch train-head", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("interim", help="directory written by facematch features")
    parser.add_argument("model_dir", help="output model directory, e.g. data/models/fer_vgg16_head/")
    parser.add_argument("log_dir", help="CSV and TensorBoard logs, e.g. data/logs/run1")
    cli.add_config_options(parser, TrainConfig, skip=("use_flipped",))
    parser.add_argument("--no-flipped", action="store_true", help="ignore the mirrored Training features")
    args = parser.parse_args(argv)
    config = cli.config_from(args, TrainConfig, use_flipped=not args.no_flipped)
    if config.class_weight not in ("balanced", "sqrt", "none"):
        raise cli.CliError("--class-weight must be balanced, sqrt or none")
    if config.quantize not in ("float16", "int8", "none"):
        raise cli.CliError("--quantize must be float16, int8 or none")
    if config.epochs < 1 or config.batch_size < 1:
        raise cli.CliError("--epochs and --batch-size must be positive")
    spec = train(args.interim, args.model_dir, args.log_dir, config)
    print(json.dumps(plain(spec.provenance["metrics"]), indent=2))
    print(f"wrote {args.model_dir} (model.keras, model.tflite, spec.json); logs in {args.log_dir}")
    return 0


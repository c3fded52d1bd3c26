"""Train the whole VGG16 network end to end on augmented faces (resumable), then write the model directory.

    facematch train data/processed/fer2013/ data/network/run1 data/logs/network1 \
        --output data/models/fer_vgg16_net/
    facematch train ... --finalize-only     # best weights so far → model directory
    facematch train ... --speed             # images/s of this machine, then exit

Running the same command again resumes a cut run from WORK_DIR.
"""

import argparse
import json

from facematch import cli
from facematch.model_spec import plain
from facematch.pipeline.configs import NetworkConfig
from facematch.pipeline.network import finalize_network, measure_speed, train_network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("work_dir", help="checkpoints, per-epoch weights and the resume backup")
    parser.add_argument("log_dir", help="CSV log (keep the same one when resuming)")
    parser.add_argument("--output", default="data/models/fer_network/", help="model directory to write (a new one)")
    parser.add_argument("--finalize-only", action="store_true", help="skip training; export the best weights so far")
    parser.add_argument("--speed", action="store_true", help="measure training images/s and exit")
    cli.add_config_options(parser, NetworkConfig)
    args = parser.parse_args(argv)
    config = cli.config_from(args, NetworkConfig)
    if args.speed:
        print(f"{measure_speed(config):.0f} training images/s")
        return 0
    if not args.finalize_only:
        train_network(args.processed, args.work_dir, args.log_dir, config)
    spec = finalize_network(args.processed, args.work_dir, args.output, args.log_dir)
    print(json.dumps(plain(spec.provenance["metrics"]), indent=2))
    print(f"wrote {args.output}; evaluate it with facematch evaluate")
    return 0


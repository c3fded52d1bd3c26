"""Choose on PublicTest which views of each face the live game plays per frame.

    python scripts/choose_live_views.py models/fer_vgg16/ data/processed/fer2013/ [--candidates none hflip]
    make benchmark                                                      # the frame step must stay within budget
    python scripts/evaluate_model.py models/fer_vgg16/ data/processed/fer2013/   # then: card and PrivateTest

Writes `live_test_time_augmentation` into the model's metadata.json: the cheapest candidate unless
a dearer one beats it on PublicTest by more than --min-gain. PrivateTest is not read.
"""

import argparse
import json

from facematch import cli
from facematch.pipeline.evaluation import choose_live_views


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + metadata.json), rewritten in place")
    parser.add_argument("processed", help="directory written by make_dataset.py")
    parser.add_argument("--candidates", nargs="+", default=["none", "hflip"], help="cheapest first")
    parser.add_argument("--min-gain", type=float, default=0.0065,
                        help="PublicTest accuracy a dearer candidate must add (default 0.0065: paired noise)")
    args = parser.parse_args()
    print(json.dumps(choose_live_views(args.model_dir, args.processed, tuple(args.candidates), args.min_gain),
                     indent=2))
    return 0


if __name__ == "__main__":
    cli.run(main)

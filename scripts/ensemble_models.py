"""Sum networks' logits into one judge (one model.tflite), the share chosen on PublicTest.

    python scripts/ensemble_models.py data/models/fer_vgg16_ft3/ data/models/fer_compact/ \
        data/models/fer_compact2/ data/processed/fer2013/ models/fer_vgg16/
    python scripts/choose_live_views.py models/fer_vgg16/ data/processed/fer2013/    # then, as for any model:
    python scripts/fuse_blendshapes.py models/fer_vgg16/ data/processed/fer2013/ --cache data/interim/blendshapes
    python scripts/evaluate_model.py models/fer_vgg16/ data/processed/fer2013/

The first network keeps 1 - s of the sum and the others split s equally; the first network's
test-time views are compared to choose s. A model directory without model.keras is
rebuilt from its model.tflite first (recover_keras.py). PrivateTest is not read.
"""

import argparse
import json

from facematch import cli
from facematch.pipeline.ensemble import ensemble_models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="model directory of the first network (its views and card lead)")
    parser.add_argument("others", nargs="+", help="model directories of the other networks (they share s equally)")
    parser.add_argument("processed", help="directory written by make_dataset.py")
    parser.add_argument("output", help="model directory to write")
    args = parser.parse_args()
    metadata = ensemble_models([args.first, *args.others], args.processed, args.output)
    print(json.dumps({"share": metadata["ensemble"]["share"], "member_shares": metadata["ensemble"]["member_shares"],
                      "publictest_accuracy_by_share": metadata["ensemble"]["publictest_accuracy_by_share"],
                      "test_time_augmentation": metadata["test_time_augmentation"]}, indent=2))
    print(f"wrote {args.output}; next: choose_live_views.py, fuse_blendshapes.py, evaluate_model.py")
    return 0


if __name__ == "__main__":
    cli.run(main)

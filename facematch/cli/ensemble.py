"""Sum networks' logits into one judge (one model.tflite), the share chosen on PublicTest.

    facematch ensemble data/models/fer_vgg16_ft3/ data/models/fer_compact/ \
        data/models/fer_compact2/ data/processed/fer2013/ data/models/fer_ens/
    # then, as for any model: facematch choose-views, fit-offsets, evaluate (see the Makefile's pipeline)

The first network keeps 1 - s of the sum and the others split s equally; the first network's
test-time views are compared to choose s. A model directory without model.keras is
rebuilt in memory from its model.tflite (as facematch recover-keras does). PrivateTest is not read.
"""

import argparse
import json

from facematch.model_spec import plain
from facematch.pipeline.ensemble import ensemble_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch ensemble", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="model directory of the first network (its views and card lead)")
    parser.add_argument("others", nargs="+", help="model directories of the other networks (they share s equally)")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    args = parser.parse_args(argv)
    spec = ensemble_models([args.first, *args.others], args.processed, args.output)
    ensemble = spec.provenance["ensemble"]
    print(json.dumps({"share": ensemble["share"], "member_shares": plain(ensemble["member_shares"]),
                      "publictest_accuracy_by_share": plain(ensemble["publictest_accuracy_by_share"]),
                      "views": spec.views}, indent=2))
    print(f"wrote {args.output}; next: facematch choose-views, fit-offsets, evaluate")
    return 0


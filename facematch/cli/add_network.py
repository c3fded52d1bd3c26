"""Add one network to an ensemble judge (one model.tflite again), its share chosen on PublicTest.

    facematch add-network facematch/models/fer_vgg16/ data/models/fer_compact5/ \
        data/processed/fer2013/ data/models/fer_ens5/
    # then, as for any model: facematch choose-views, fit-offsets, evaluate (see the Makefile's judge5)

The judge's networks are rebuilt from its model.tflite (a checkout has no other copy of them) and keep
their shares times 1 - s; the new network gets s. The sum is scored with the judge's low-pass and views,
class offsets off. PrivateTest is not read.
"""

import argparse
import json

from facematch.model_spec import plain
from facematch.pipeline.ensemble import SHARES, add_network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch add-network", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("judge", help="model directory of an ensemble judge (its .tflite is enough)")
    parser.add_argument("network", help="model directory of the network to add (with its model.keras)")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--shares", type=float, nargs="+", default=list(SHARES),
                        help="the new network's share candidates, smallest first (default: 0.0 to 0.9 by 0.1)")
    parser.add_argument("--keep-views", action="store_true",
                        help="keep the judge's test-time views instead of choosing them again on PublicTest "
                             "accuracy (more views: steadier when the crop's size changes)")
    args = parser.parse_args(argv)
    spec = add_network(args.judge, args.network, args.processed, args.output, sorted(args.shares),
                       args.keep_views)
    ensemble = spec.provenance["ensemble"]
    print(json.dumps({"share": ensemble["added"]["share"], "member_shares": plain(ensemble["member_shares"]),
                      "publictest_accuracy_by_share": plain(ensemble["added"]["publictest_accuracy_by_share"]),
                      "views": spec.views}, indent=2))
    print(f"wrote {args.output}; next: facematch choose-views, fit-offsets, evaluate")
    return 0

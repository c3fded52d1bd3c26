"""Choose on PublicTest which views of each face the live game plays per frame, or predict() averages.

    facematch choose-views data/models/fer_ens/ data/processed/fer2013/ data/models/fer_ens_live/ \
        [--candidates none hflip]
    make benchmark    # the frame step must stay within budget
    facematch choose-views data/models/fer_ens/ data/processed/fer2013/ data/models/fer_ens_views/ --path predict
    facematch fit-offsets data/models/fer_ens_views/ … --path predict    # predict()'s offsets, for its new views

Writes OUTPUT: the model directory with `live_views` chosen in its spec: the cheapest candidate unless
a dearer one beats it on PublicTest by more than --min-gain. With --path predict, `views` (what predict()
averages) is chosen among every view set instead, a set with more views only if it does strictly better than
every cheaper one (among the sets that hold the live views), and the live game plays exactly as before (its
views, its offsets, and the view temperature where it plays several views). The input is only read; PrivateTest is
not read.
"""

import argparse
import json

from facematch.pipeline.views import choose_live_views, choose_predict_views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch choose-views", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + spec.json), only read")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--path", choices=("live", "predict"), default="live",
                        help="the views to choose: the live game's (default) or predict()'s")
    parser.add_argument("--candidates", nargs="+", default=["none", "hflip"], help="cheapest first (--path live)")
    parser.add_argument("--min-gain", type=float, default=0.0065,
                        help="PublicTest accuracy a dearer candidate must add (default 0.0065: paired noise; "
                             "--path live)")
    args = parser.parse_args(argv)
    if args.path == "predict":
        result = choose_predict_views(args.model_dir, args.processed, args.output)
    else:
        result = choose_live_views(args.model_dir, args.processed, args.output, tuple(args.candidates),
                                   args.min_gain)
    print(json.dumps(result, indent=2))
    return 0

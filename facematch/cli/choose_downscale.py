"""Choose on PublicTest how the judge shrinks crops larger than its input (rules R21 and R24).

    facematch choose-downscale data/models/fer_ens_third_steady/ data/processed/fer2013/ \
        data/models/fer_ens_third_sharp/ --video data/external/WolfgangLanger_Pexels.mp4

Writes OUTPUT: the model directory with `downscale` (model_spec.DOWNSCALES) and `sharpen` chosen in its
spec: the candidate whose verdicts best survive the PublicTest faces being enlarged (96 px bilinear and
bicubic, 72 px bilinear, 160 px bicubic) and shrunk back, on predict() and on the live path (--rank mean:
the best mean share of kept verdicts; worst: the best lowest share, then mean). A 48 px face is
never resized, so FER2013 accuracy does not change. --video: also tell, for each candidate, the share
of that video's faces (cropped as the game crops them) whose live verdict is the same as with pixel-area
averaging. The input is only read; PrivateTest is not read.
"""

import argparse
import json

from facematch.model_spec import DOWNSCALES
from facematch.pipeline.steadiness import RANKS, choose_downscale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch choose-downscale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + spec.json), only read")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--candidates", nargs="+", choices=DOWNSCALES, default=list(DOWNSCALES),
                        help="downscales to compare (default: all)")
    parser.add_argument("--sharpen", nargs="+", type=float, default=[0.0], metavar="S",
                        help="sharpenings to try with each downscale: s in [-s, 1 + 2s, -s] (default: 0, none)")
    parser.add_argument("--rank", choices=RANKS, default="mean",
                        help="rank candidates by their mean agreement (default) or their worst, then mean")
    parser.add_argument("--video", help="a video of a real face (any format PyAV reads), for the record")
    args = parser.parse_args(argv)
    print(json.dumps(choose_downscale(args.model_dir, args.processed, args.output, tuple(args.candidates),
                                      args.video, sharpens=tuple(args.sharpen), rank=args.rank), indent=2))
    return 0

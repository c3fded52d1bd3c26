"""Choose on PublicTest the low-pass every face gets once it is at the judge's input size (rule R7).

    facematch choose-low-pass data/models/fer_ens_live/ data/processed/fer2013/ data/models/fer_ens_smooth/

Writes OUTPUT: the model directory with `low_pass` chosen in its spec: of the candidates (and none)
whose PublicTest accuracy on predict() and on the live path (class offsets off) each stays within
--max-accuracy-drop of none's, the one whose verdicts best survive the face being enlarged to 96 px
(bilinear and bicubic) and shrunk back. Refit the class offsets afterwards (fit-offsets). The input
is only read; PrivateTest is not read.
"""

import argparse
import json

from facematch.pipeline.steadiness import choose_low_pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch choose-low-pass", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + spec.json), only read")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    parser.add_argument("--candidates", type=float, nargs="+", default=[0.0625, 0.125, 0.1875],
                        help="values of a in the kernel [a, 1 - 2a, a]")
    parser.add_argument("--max-accuracy-drop", type=float, default=0.003,
                        help="PublicTest accuracy a candidate may lose on either path (default 0.003)")
    args = parser.parse_args(argv)
    print(json.dumps(choose_low_pass(args.model_dir, args.processed, args.output, tuple(args.candidates),
                                     args.max_accuracy_drop), indent=2))
    return 0

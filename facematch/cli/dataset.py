"""fer2013.csv (plain, .gz, .xz) → data/processed/fer2013/{Training,PublicTest,PrivateTest}.npz

    facematch dataset data/raw/fer2013.csv data/processed/fer2013/ [--images]
"""

import argparse

from facematch.pipeline.dataset import read_fer2013, summarize, write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="fer2013.csv, optionally compressed (.gz, .xz, .bz2)")
    parser.add_argument("output", help="output directory for the per-split arrays")
    parser.add_argument("--images", action="store_true", help="also write PNGs per split and emotion")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    result = read_fer2013(args.input, progress=not args.quiet)
    print(summarize(result))
    out = write_dataset(result, args.output, source=args.input, images=args.images)
    print(f"wrote {out}" + (" (all skipped rows in skipped_rows.txt)" if result.errors else ""))
    return 0


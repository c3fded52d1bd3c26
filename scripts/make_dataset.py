"""fer2013.csv (plain, .gz, .xz) → data/processed/fer2013/{Training,PublicTest,PrivateTest}.npz

    python scripts/make_dataset.py data/raw/fer2013.csv data/processed/fer2013/ [--images]
"""

import argparse

from facematch import cli
from facematch.pipeline.dataset import read_fer2013, summarize, write_dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="fer2013.csv, optionally compressed (.gz, .xz, .bz2)")
    parser.add_argument("output", help="output directory for the per-split arrays")
    parser.add_argument("--images", action="store_true", help="also write PNGs per split and emotion")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()

    result = read_fer2013(args.input, progress=not args.quiet)
    print(summarize(result))
    out = write_dataset(result, args.output, source=args.input, images=args.images)
    print(f"wrote {out}" + (" (all skipped rows in skipped_rows.txt)" if result.errors else ""))
    return 0


if __name__ == "__main__":
    cli.run(main)

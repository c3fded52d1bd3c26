"""Processed FER2013 → VGG16 bottleneck features per split, cached.

    facematch features data/processed/fer2013/ data/interim/ [--weights hed|imagenet|random|PATH]
"""

import argparse

from facematch.pipeline.features import CUT_LAYERS, build_features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch features", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("interim", help="directory for the cached features")
    parser.add_argument("--weights", default="hed",
                        help="VGG16 initialisation: hed (offline, default), imagenet (download), random, or a path")
    parser.add_argument("--layer", default="block4_pool", choices=CUT_LAYERS,
                        help="where the VGG16 base is cut (block4_pool measured best at 48x48)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-flip", action="store_true", help="skip mirrored copies of the Training images")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching cache exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    meta = build_features(args.processed, args.interim, args.weights, args.layer, args.batch_size,
                          flip=not args.no_flip, force=args.force, progress=not args.quiet)
    print(f"features {meta['feature_shape']} for {', '.join(meta['arrays'])} in {args.interim}")
    return 0


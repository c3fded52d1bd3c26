"""Give a trained judge a second opinion from the face's muscles (MediaPipe blendshapes).

    python scripts/fuse_blendshapes.py models/fer_vgg16/ data/processed/fer2013/ [--cache data/interim/blendshapes]

Measures the 52 blendshapes of every FER2013 crop (cached; ~5 min per 30,000 faces here), trains a
small MLP on Training, fits the fusion weight and offsets on PublicTest, and writes them into the
model only if its rule holds (facematch.pipeline.blendshapes.fit_fusion). PrivateTest is not read:
run evaluate_model.py afterwards for the card.
"""

import argparse
import json

from facematch import cli
from facematch.pipeline.blendshapes import fit_fusion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model directory (model.tflite + metadata.json)")
    parser.add_argument("processed", help="directory written by make_dataset.py")
    parser.add_argument("--cache", default="data/interim/blendshapes", help="where measured blendshapes are kept")
    parser.add_argument("--dry-run", action="store_true", help="measure and report, write nothing into the model")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    report = fit_fusion(args.model, args.processed, args.cache, write=not args.dry_run, progress=not args.quiet)
    print(json.dumps({k: report[k] for k in ("weight", "class_log_offsets", "gains", "weak_classes_kept")}, indent=1))
    verdict = "written into the model" if report["ships"] and not args.dry_run else "not written"
    print(f"fusion {'passes' if report['ships'] else 'fails'} its rule: {verdict}"
          + ("; plays live" if report["live"] else "; not played live"))
    return 0


if __name__ == "__main__":
    cli.run(main)

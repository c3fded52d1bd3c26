"""Evaluate a model directory on PublicTest and PrivateTest; write metrics, confusion matrix, model card.

    python scripts/evaluate_model.py models/fer_vgg16/ data/processed/fer2013/
"""

import argparse

from facematch import cli
from facematch.pipeline.evaluation import evaluate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + metadata.json)")
    parser.add_argument("processed", help="directory written by make_dataset.py")
    args = parser.parse_args()
    evaluate(args.model_dir, args.processed)
    print(f"wrote evaluation.json, confusion_matrix.png/.json and MODEL_CARD.md in {args.model_dir}")
    return 0


if __name__ == "__main__":
    cli.run(main)

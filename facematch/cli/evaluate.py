"""Evaluate a model directory on PublicTest and PrivateTest; write it anew with its metrics, confusion
matrix and model card.

    facematch evaluate data/models/fer_ens_offsets/ data/processed/fer2013/ facematch/models/fer_vgg16/

The input is only read; OUTPUT is a copy of it with evaluation.json, confusion_matrix.png/.json and
MODEL_CARD.md (the last step of make pipeline writes the shipped judge this way).
"""

import argparse

from facematch.pipeline.evaluation import evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory (model.tflite + spec.json), only read")
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", help="model directory to write")
    args = parser.parse_args(argv)
    evaluate(args.model_dir, args.processed, args.output)
    print(f"wrote {args.output}: the judge, evaluation.json, confusion_matrix.png/.json and MODEL_CARD.md")
    return 0


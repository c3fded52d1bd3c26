"""Rebuild a model directory's model.keras from its model.tflite, to train the shipped model further.

    facematch recover-keras facematch/models/fer_vgg16/ data/models/fer_vgg16_start/ [--check data/processed/fer2013/]

model.keras is not kept in git; this writes a copy of the model directory with it recovered (from the
.tflite's int8 weights) so that `facematch train --init-model OUT` can start from a shipped model.
--check compares the rebuilt network with the .tflite on PublicTest.
"""

import argparse
import logging

import numpy as np

from facematch.pipeline.recover import recover_keras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch recover-keras", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model directory with model.tflite and spec.json (only read)")
    parser.add_argument("output", help="model directory to write (the copy with model.keras)")
    parser.add_argument("--check", metavar="PROCESSED", help="compare with the .tflite on this dataset's PublicTest")
    args = parser.parse_args(argv)
    path = recover_keras(args.model_dir, args.output)
    if args.check:
        import keras

        from facematch.pipeline.dataset import load_split
        from facematch.play.classifier import load_classifier

        val = load_split(args.check, "PublicTest")
        ours = keras.saving.load_model(path, safe_mode=True).predict(
            val.images[..., None].astype(np.float32), batch_size=256, verbose=0)
        shipped = load_classifier(args.model_dir).predict(val.images, "none")
        logging.getLogger(__name__).info(
            "PublicTest single pass: rebuilt %.2f%%, .tflite %.2f%%; same class for %.2f%% of faces, "
            "largest probability difference %.4f",
            100 * (ours.argmax(1) == val.labels).mean(), 100 * (shipped.argmax(1) == val.labels).mean(),
            100 * (ours.argmax(1) == shipped.argmax(1)).mean(), np.abs(ours - shipped).max())
    print(f"wrote {path}")
    return 0


"""Fine-tune VGG16's upper blocks + the head on augmented images, resumable; then write the model directory.

    facematch finetune data/processed/fer2013/ data/models/fer_vgg16_head/ \
        data/finetune/run2 data/logs/finetune --output data/models/fer_vgg16_ft1/
    facematch finetune ... --finalize-only     # best checkpoint so far → model directory

The second argument is the starting point (its model.keras, from facematch train-head or an earlier
fine-tuning run); the fine-tuned model is written to --output (by default over the starting point).
`make finetune` runs the two chained runs that made the shipped model.
Running the same command again resumes an interrupted run from WORK_DIR.
"""

import argparse
import json

from facematch import cli
from facematch.model_spec import plain
from facematch.pipeline.configs import FinetuneConfig
from facematch.pipeline.finetune import finalize, finetune


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch finetune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("model_dir", help="model directory to start from (model.keras)")
    parser.add_argument("work_dir", help="checkpoints and the resume backup")
    parser.add_argument("log_dir", help="CSV and TensorBoard logs (keep the same one when resuming)")
    parser.add_argument("--output", help="write the fine-tuned model here instead of MODEL_DIR")
    parser.add_argument("--cache-dir", help="frozen layers' activations (default: WORK_DIR/cache); runs with the "
                        "same frozen layers, data and augmentation can share one")
    parser.add_argument("--finalize-only", action="store_true", help="skip training; export the best checkpoint "
                        "(or a better average of the last evaluations' weights)")
    cli.add_config_options(parser, FinetuneConfig)
    args = parser.parse_args(argv)
    config = cli.config_from(args, FinetuneConfig)
    if config.total_steps < 1 or config.eval_every < 1 or config.batch_size < 1:
        raise cli.CliError("--total-steps, --eval-every and --batch-size must be positive")
    if not args.finalize_only:
        finetune(args.processed, args.model_dir, args.work_dir, args.log_dir, config, cache_dir=args.cache_dir)
    spec = finalize(args.processed, args.work_dir, args.output or args.model_dir, args.log_dir,
                        cache_dir=args.cache_dir)
    print(json.dumps(plain(spec.provenance["metrics"]), indent=2))
    print(f"wrote {args.output or args.model_dir}; evaluate it with facematch evaluate")
    return 0


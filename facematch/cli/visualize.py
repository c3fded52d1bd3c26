"""Class counts per split and a grid of sample faces per emotion, as PNGs.

    facematch visualize data/processed/fer2013/ reports/figures/
"""

import argparse
from pathlib import Path

import numpy as np

from facematch import EMOTIONS
from facematch.config import SPLITS
from facematch.pipeline.dataset import load_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch visualize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("processed", help="directory written by facematch dataset")
    parser.add_argument("output", nargs="?", default="reports/figures", help="default: reports/figures")
    parser.add_argument("--per-class", type=int, default=8, help="sample faces per emotion (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    splits = {s: load_split(args.processed, s) for s in SPLITS}

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    width = 0.8 / len(SPLITS)
    for i, (split, data) in enumerate(splits.items()):
        counts = np.bincount(data.labels, minlength=len(EMOTIONS))
        ax.bar(np.arange(len(EMOTIONS)) + i * width, counts, width, label=f"{split} ({len(data.labels)})")
    ax.set_xticks(np.arange(len(EMOTIONS)) + width, EMOTIONS)
    ax.set_ylabel("images")
    ax.set_title("FER2013 class counts per split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "class_counts.png")
    plt.close(fig)

    train = splits["Training"]
    rng = np.random.default_rng(args.seed)
    fig, axes = plt.subplots(len(EMOTIONS), args.per_class, figsize=(args.per_class, len(EMOTIONS) * 1.1), dpi=100)
    axes = np.asarray(axes).reshape(len(EMOTIONS), args.per_class)
    for row, emotion in enumerate(EMOTIONS):
        idx = np.flatnonzero(train.labels == row)
        chosen = rng.choice(idx, size=min(args.per_class, len(idx)), replace=False) if len(idx) else []
        for col in range(args.per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(chosen):
                ax.imshow(train.images[chosen[col]], cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_title(emotion, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(out / "sample_faces.png")
    plt.close(fig)
    print(f"wrote {out / 'class_counts.png'} and {out / 'sample_faces.png'}")
    return 0


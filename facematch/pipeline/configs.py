"""The options of each training recipe, with their defaults: recorded with every run and model.

Plain dataclasses (no TensorFlow), so the model card can read a recorded run's options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from facematch import EMOTIONS
from facematch.errors import ConfigError

# The networks trained from scratch on the centre `crop` pixels (no backbone or head of their own): their
# keras.Model is named facematch_<architecture>_logits, which a warm restart looks for.
FROM_SCRATCH = ("compact", "residual")


def network_kind(architecture: dict) -> str:
    """A spec's architecture → the network's kind: the backbone text before its ":" ("compact", "residual", or the
    VGG16 network's description)."""
    return str(architecture.get("backbone", "")).split(":")[0]


def class_boost(text: str) -> dict[int, float]:
    """The class_boost option: "fear=2,sad=1.5" → {2: 2.0, 4: 1.5} (label index → factor); "" → {}."""
    factors = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        if name.strip() not in EMOTIONS or not factor > 0:
            raise ConfigError(f"class boost is label=factor, comma separated, with a label of {', '.join(EMOTIONS)} "
                              f"and a positive factor, got {part!r}")
        factors[EMOTIONS.index(name.strip())] = factor
    return factors


def loss_weights(counts: list[int], mode: str, boost: str = "") -> list[float] | None:
    """Per-class loss weights (label order) from the Training counts, against FER2013's imbalance (disgust is 1.5%
    of Training): balanced n / (k * count), as in scikit-learn; sqrt its square root (milder); none 1. `boost` then
    multiplies named classes' weights ("fear=2"). None when every weight is 1 (`none`, no boost). A class with no
    example weighs 1."""
    if mode not in ("balanced", "sqrt", "none"):
        raise ConfigError(f"class weight mode must be balanced, sqrt or none, got {mode!r}")
    factors = class_boost(boost)
    if mode == "none" and not factors:
        return None
    n = sum(counts)
    weights = [1.0 if mode == "none" or not c else n / (len(EMOTIONS) * c) for c in counts]
    weights = [w ** 0.5 for w in weights] if mode == "sqrt" else weights
    return [w * factors.get(i, 1.0) for i, w in enumerate(weights)]


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 3e-4
    hidden: int = 512
    dropout: float = 0.5
    l2: float = 1e-5
    patience: int = 6
    class_weight: str = "sqrt"
    use_flipped: bool = True
    seed: int = 1234
    quantize: str = "int8"  # dynamic-range: half the size of float16, PrivateTest within 0.2 point


@dataclass
class FinetuneConfig:
    total_steps: int = 4000  # ~9 passes over Training at batch 64
    eval_every: int = 400
    batch_size: int = 64
    learning_rate: float = 1e-4  # peak Adam rate: linear warm-up, then cosine decay to 0 at total_steps
    warmup_steps: int = 200
    train_from: str = "block3_conv1"  # the layers before it stay frozen (and cached)
    augmented_copies: int = 4  # cached versions of each Training image: original, mirror, random ones
    feature_shift: int = 1  # random shift of the cached activations, in cells (block2_pool: 1 cell = 4 px)
    head_dropout: float = 0.5  # the rate of the head's two Dropout layers while fine-tuning
    class_weight: str = "sqrt"
    shift: float = 0.08
    rotation: float = 0.04  # fraction of a full turn (0.04 = 14 degrees)
    zoom: float = 0.1
    patience: int = 10  # evaluations without a better PublicTest accuracy
    seed: int = 1234
    quantize: str = "int8"
    strategy: str = "default"  # default | mirrored (all local GPUs) | multiworker


def filled_config(saved: dict) -> dict:
    """A recorded run's configuration with options added since then at their defaults (its behaviour then)."""
    return {**asdict(FinetuneConfig()), **saved}


@dataclass
class NetworkConfig:
    epochs: int = 24  # the cosine schedule's length; resumed runs continue it
    batch_size: int = 64
    learning_rate: float = 1e-4  # peak rate: linear warm-up, then cosine decay to 0
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-4  # decoupled: each step shrinks the weights by learning rate × weight_decay
    optimizer: str = "adamw"  # adamw | sgd (Nesterov momentum 0.9)
    label_smoothing: float = 0.1
    hidden: int = 512
    dropout: float = 0.5
    class_weight: str = "sqrt"
    class_boost: str = ""  # e.g. "fear=2": those classes' loss weights multiplied (modeling.class_weights)
    shift: float = 0.1
    rotation: float = 0.04  # fraction of a full turn (0.04 = 14 degrees)
    zoom: float = 0.15
    contrast: float = 0.3
    erase: float = 0.5  # probability of blanking one random square of up to 16 px (cutout)
    # Probability that a Training face is enlarged (bilinear or bicubic) or shrunk to a random 32-160 px and brought
    # back to 48 px as the judge's to_gray_size would (area down, bilinear up): live crops come at every size.
    resample: float = 0.0
    # Consistency: each batch also holds every face enlarged to a random 56-160 px (bilinear or bicubic) and shrunk
    # back as the judge shrinks a larger crop (areas to 96 px, then bicubic); the loss adds this weight × the
    # symmetric KL divergence between the network's predictions for the face and for its resized twin. 0: none.
    consistency: float = 0.0
    # The judge's fixed 3-tap low-pass [a, 1 - 2a, a] (spec field low_pass), applied to every face the network
    # trains and is evaluated on, as predict() applies it; 0: none.
    low_pass: float = 0.0
    weights: str = "hed"
    # vgg16: HED's VGG16 to block4 + head; compact: a small VGG-style network with batch norm; residual: ResNet-18's
    # layout; the last two trained from scratch on the centre `crop` pixels (random crops come from the shifts).
    architecture: str = "vgg16"
    crop: int = 40  # compact and residual only
    width: int = 32  # compact and residual: the first block's channels, doubled in each next block (32: 32-64-128-256)
    # A model directory to start from: `facematch train-head`'s (its backbone and head) for the VGG16 network, or
    # a compact or residual network's (`facematch train --architecture …`) for a warm restart of the same widths.
    init_model: str = ""
    # Knowledge distillation: a judge's model directory whose probabilities (its face and mirror image averaged)
    # are the targets, mixed with the true label: distill × teacher + (1 - distill) × one-hot.
    teacher: str = ""
    distill: float = 0.7
    precision: str = "auto"  # auto: mixed_bfloat16 where the CPU has AVX-512 BF16, else float32
    seed: int = 1234
    quantize: str = "int8"

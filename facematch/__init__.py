"""Facematch: learn accurate facial expressions by playing, judged by a network trained on FER2013.

Two wings: `facematch.play` is what the game needs (never TensorFlow) and `facematch.app` its
Streamlit pages; `facematch.pipeline` retrains the judge (TensorFlow, the `train` extra). `config`,
`errors`, `assets`, `model_spec` and `cli` are shared.

    from facematch.play.classifier import load_classifier   # the judge
    from facematch.play.vision import FrameAnalyzer         # a frame → faces → probabilities
"""

# FER2013 label order: index i of every probability vector is EMOTIONS[i].
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

__version__ = "0.2.0"

"""Facematch: practise facial expressions against a FER2013-trained VGG16 classifier.

Two wings: `facematch.play` is what the game needs (never TensorFlow); `facematch.pipeline`
retrains the model (TensorFlow). `config`, `errors`, `assets` and `cli` are shared.

    from facematch import EMOTIONS, FrameAnalyzer, load_classifier
"""

# FER2013 label order: index i of every probability vector is EMOTIONS[i].
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "FrameAnalyzer", "load_classifier"]


def __getattr__(name: str):
    # Lazy: `import facematch` stays cheap, and importing the pipeline never loads LiteRT or MediaPipe.
    if name == "load_classifier":
        from facematch.play.classifier import load_classifier

        return load_classifier
    if name == "FrameAnalyzer":
        from facematch.play.vision import FrameAnalyzer

        return FrameAnalyzer
    raise AttributeError(f"module 'facematch' has no attribute {name!r}")

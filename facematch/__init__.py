"""Facematch: practise facial expressions against a FER2013-trained VGG16 classifier."""

# FER2013 label order: index i of every probability vector is EMOTIONS[i].
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

__version__ = "0.1.0"

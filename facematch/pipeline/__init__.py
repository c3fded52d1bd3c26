"""The retraining pipeline: FER2013 CSV → dataset → VGG16 features → head → fine-tuning or
whole-network training → evaluation and model card. Imports TensorFlow; the game never
imports this package."""

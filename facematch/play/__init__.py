"""What playing needs: rules and sessions (pure), vision and the LiteRT classifier, the live
hand-off between threads, the score history and its charts. Never imports TensorFlow."""

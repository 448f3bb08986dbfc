"""Fine-tuning and evaluation: pairs, the bi-encoder and cross-encoder trainers, metrics."""

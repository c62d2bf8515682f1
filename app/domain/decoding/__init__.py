"""Decoding a causal LM on our own loop: used by the sampler and by the trainer's
evaluation and best-of-N sampling alike (one loop, one seeding rule)."""

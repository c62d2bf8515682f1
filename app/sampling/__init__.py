"""The sampler: keeps a buffer of open pairs sampled from each project's active policy."""

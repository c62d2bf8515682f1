"""Assignment of pairs to evaluators, the labelling page and submission."""

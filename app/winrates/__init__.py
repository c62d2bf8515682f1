"""Human win-rates between policy versions from head-to-head comparisons."""

"""Subcommands that live with their own packages register here, one import each."""

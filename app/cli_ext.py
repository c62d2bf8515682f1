"""Subcommands that live with their own packages, registered in one place.

Each such package has a `cli.py` with `register(sub)`: it adds its parsers (with
`set_defaults(key="name")`) and decorates its handlers with `app.cli.command("name")`.
Add one import and one list entry below for a new package.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

from app.simulate.cli import register as simulate  # noqa: E402

REGISTRARS: list[Register] = [simulate]

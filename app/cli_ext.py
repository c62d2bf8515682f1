"""Subcommands that live with their own packages, registered in one place.

Each such package has a `cli.py` with `register(sub)`: it adds its parsers (with
`set_defaults(key="name")`) and decorates its handlers with `app.cli.command("name")`.
Add one import and one list entry below for a new package.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

from app.export import cli as export_cli  # noqa: E402
from app.prompts import cli as prompts_cli  # noqa: E402
from app.sampling import cli as sampling_cli  # noqa: E402
from app.simulate import cli as simulate_cli  # noqa: E402
from app.training import cli as training_cli  # noqa: E402

REGISTRARS: list[Register] = [
    prompts_cli.register,
    export_cli.register,
    sampling_cli.register,
    training_cli.register,
    simulate_cli.register,
]

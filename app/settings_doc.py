"""The settings table for the README: `python -m app.settings_doc [--write README.md]`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from app.settings import Settings

BEGIN = "<!-- settings-table: python -m app.settings_doc --write README.md -->"
END = "<!-- /settings-table -->"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default in (None, "") else default
        rows.append(f"| `{name.upper()}` | `{shown}` | {field.description or ''} |")
    return "\n".join(rows)


def write_into(path: Path) -> None:
    text = path.read_text()
    block = f"{BEGIN}\n{settings_table()}\n{END}"
    new, count = re.subn(
        re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S
    )
    if count != 1:
        raise SystemExit(f"{path}: settings-table markers not found")
    path.write_text(new)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write_into(Path(sys.argv[2]))
    else:
        print(settings_table())

"""Print the settings table for the README: `python -m app.settings_doc`."""

from __future__ import annotations

from app.settings import Settings


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default in (None, "") else default
        rows.append(f"| `{name.upper()}` | `{shown}` | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())

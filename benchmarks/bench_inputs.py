"""The synthetic sets the benchmarks run on: named sizes, generated once and cached.

One generator per evaluation type (``CONFIGS``): its config dataclass names the
generator module (``generator``: a script in ``benchmarks/`` with a ``describe``), the
cache directory (``cache_name()``) and the script's options (``argv()``). A new type adds its
generator and a line to ``CONFIGS`` and ``SIZES``.

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
from make_synthetic_keypoints import KeypointConfig
from make_synthetic_segm import SegmConfig

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / "out"

SetConfig = SyntheticConfig | KeypointConfig | SegmConfig
CONFIGS: dict[str, type[SetConfig]] = {
    "bbox": SyntheticConfig,
    "keypoints": KeypointConfig,
    "segm": SegmConfig,
}

# Named sizes of each type, in images. 5k is val2017-sized at 100 detections per image
# (500k); kp5k is person_keypoints_val2017-sized at 20 results per image (100k); segm5k
# is val2017-sized at 100 mask results per image (500k), segm100 a tiny one to try.
SIZES = {
    "bbox": {"5k": 5_000, "20k": 20_000},
    "keypoints": {"kp5k": 5_000},
    "segm": {"segm5k": 5_000, "segm100": 100},
}


def parse_sizes(text: str, iou_type: str = "bbox") -> list[str]:
    """``"5k,20k"`` as a list of size names of ``iou_type``; ValueError names an unknown one."""
    known = SIZES[iou_type]
    sizes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in known]
    if unknown or not sizes:
        raise ValueError(f"unknown {iou_type} size {unknown}; choose from {', '.join(known)}")
    return sizes


def synthetic_set(cfg: SetConfig, cache_dir: Path, regenerate: bool) -> tuple[Path, Path]:
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


def describe_set(gt_path: Path, preds_path: Path, generator: str = "make_synthetic_coco") -> str:
    """``describe`` of the ``generator`` module on the set, computed in a child process."""
    code = f"import sys; from {generator} import describe; from pathlib import Path; "
    code += "print(describe(Path(sys.argv[1]), Path(sys.argv[2])))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(gt_path), str(preds_path)],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()

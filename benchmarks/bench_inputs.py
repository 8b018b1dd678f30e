"""The synthetic sets the benchmarks run on: named sizes, generated once and cached."""

from __future__ import annotations

import time
from pathlib import Path

from make_synthetic_coco import GENERATOR_VERSION, SyntheticConfig, write_dataset

DEFAULT_CACHE = Path(__file__).resolve().parent / "out"

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

    The directory name holds the generator's version and every option, so a set made by
    another version or with other options is never reused.
    """
    name = f"synthetic-v{GENERATOR_VERSION}-i{cfg.images}-c{cfg.classes}"
    name += f"-d{cfg.dets_per_image}-s{cfg.seed}"
    out_dir = cache_dir / name
    gt_path, preds_path = out_dir / "gt.json", out_dir / "preds.json"
    if regenerate or not (gt_path.is_file() and preds_path.is_file()):
        start = time.perf_counter()
        write_dataset(cfg, out_dir)
        print(f"generated {out_dir} in {time.perf_counter() - start:.1f} s")
    else:
        print(f"reusing {out_dir}")
    return gt_path, preds_path

"""The README's service commands (curl, ``deteval submit``) run as written against a
real stack: only the placeholders KEY, ID, GT.json, PRED.json and the URL are filled in."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

from service_stack import KEYS, SMALL_GT, Stack

from evaluator import masks

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8000"


def service_commands() -> list[str]:
    """The ``curl`` and ``deteval submit`` commands of the README's service section, each
    joined across its ``\\`` continuations, trailing comments removed."""
    section = README.read_text().split("## The service", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            command = re.sub(r"\s{2,}#.*$", "", line).strip()
            if command.startswith(("curl ", "deteval submit ")):
                commands.append(command)
    return commands


def test_readme_has_the_commands() -> None:
    commands = service_commands()
    assert any("/v1/datasets" in c for c in commands), commands
    assert any("/v1/evaluations" in c for c in commands), commands
    assert any(c.startswith("deteval submit") for c in commands), commands
    assert any("DELETE" in c for c in commands), commands


def _box_polygon(box: list[float]) -> list[float]:
    x, y, w, h = box
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def test_readme_commands_run_as_written(stack: Stack, tmp_path: Path) -> None:
    # Boxes and masks on both sides, so that every kind of run the README shows can score.
    gt = copy.deepcopy(SMALL_GT)
    for annotation in gt["annotations"]:
        annotation["segmentation"] = [_box_polygon(annotation["bbox"])]
    (tmp_path / "GT.json").write_text(json.dumps(gt))
    predictions = []
    for annotation in gt["annotations"]:
        rle = masks.from_polygons([_box_polygon(annotation["bbox"])], 480, 640)[0]
        mask = {"size": rle["size"], "counts": rle["counts"].decode()}
        predictions.append(
            {
                "image_id": annotation["image_id"],
                "category_id": 1,
                "bbox": annotation["bbox"],
                "segmentation": mask,
                "score": 0.9,
            }
        )
    (tmp_path / "PRED.json").write_text(json.dumps(predictions))
    filled = {"KEY": KEYS["alice"], "ID": ""}
    for command in service_commands():
        if "ID" in command.split() or "=ID" in command:
            assert filled["ID"], f"{command!r} needs a dataset id from a command before it"
        concrete = command.replace(README_URL, stack.url)
        for placeholder, value in filled.items():
            concrete = re.sub(rf"\b{placeholder}\b", value, concrete)
        concrete = re.sub(r"^deteval ", f"{sys.executable} -m deteval ", concrete)
        if command.startswith("curl"):
            concrete += " -w '\n%{http_code}'"  # the status after the body
        run = subprocess.run(
            ["bash", "-c", concrete], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
        if command.startswith("curl"):
            body, _, status = run.stdout.rpartition("\n")
            assert 200 <= int(status) < 300, f"{command} answered {status}: {body}"
            if command.endswith("/v1/datasets"):
                filled["ID"] = json.loads(body)["id"]
        else:
            assert "AP" in run.stdout, run.stdout

"""evaluator.memory: NumPy's huge-page request is off while evaluations run, then restored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from evaluator import evaluate_coco, memory

pytestmark = pytest.mark.skipif(memory._switch is None, reason="this NumPy has no switch")


def _numpy_setting() -> bool:
    """NumPy's current setting (read by setting it back to what it was)."""
    assert memory._switch is not None
    before = memory._switch(True)
    memory._switch(before)
    return before


@contextmanager
def _numpy_set_to(setting: bool) -> Iterator[None]:
    """NumPy's setting at ``setting`` for the body, what it was after."""
    assert memory._switch is not None
    previous = memory._switch(setting)
    try:
        yield
    finally:
        memory._switch(previous)


@pytest.mark.parametrize("setting", [True, False])
def test_off_inside_and_restored_after(setting: bool) -> None:
    with _numpy_set_to(setting):
        with memory.ordinary_pages():
            assert _numpy_setting() is False
            with memory.ordinary_pages():  # nested: still off, the outer one restores
                assert _numpy_setting() is False
            assert _numpy_setting() is False
        assert _numpy_setting() is setting


def test_restored_after_an_error() -> None:
    with _numpy_set_to(True):
        with pytest.raises(RuntimeError), memory.ordinary_pages():
            raise RuntimeError("inside")
        assert _numpy_setting() is True


def test_overlapping_evaluations_restore_once_the_last_ends() -> None:
    """Two threads' evaluations overlap: the setting comes back after the later one."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with memory.ordinary_pages():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with memory.ordinary_pages():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = _numpy_setting()

    with _numpy_set_to(True):
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert seen == {"after the first left": False}
        assert _numpy_setting() is True


def test_evaluate_coco_runs_with_ordinary_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """evaluate_coco loads and scores inside ordinary_pages."""
    seen = []
    load = evaluate_coco.__globals__["load_evaluation_inputs"]

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(_numpy_setting())
        return load(*args, **kwargs)

    monkeypatch.setattr("evaluator.coco.load_evaluation_inputs", spy)
    gt = {
        "images": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4],
                         "area": 16, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "a"}],
    }  # fmt: skip
    preds = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.9}]
    with _numpy_set_to(True):
        report = evaluate_coco(gt, preds)
        assert _numpy_setting() is True
    assert seen == [False]
    assert report.stats[0] == pytest.approx(1.0)

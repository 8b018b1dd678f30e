"""Upload admission on the real stack: an API process checks and stores at most
``DETEVAL_CONCURRENT_UPLOADS`` received uploads at once; later uploads wait their turn
while status polls are still answered and further uploads are still received, and every
upload is accepted in the end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_stack import HERE, Stack, wait_for
from service_stack import SMALL_GT as GT

PREDICTIONS = json.dumps(
    [{"image_id": i, "category_id": 1, "bbox": [11, 9, 50, 41], "score": 0.9} for i in range(1, 11)]
).encode()


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, gate: Path) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"), concurrent_uploads="1", test_gate=str(gate))
    running.start([str(HERE / "gated_api.py")])
    running.start_worker()
    try:
        yield running
    finally:
        (gate / "open").touch()  # never leave an upload waiting at the gate
        running.stop()


def _submit(http: httpx.Client, dataset_id: str) -> httpx.Response:
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", PREDICTIONS)},
    )


def _reached(gate: Path) -> int:
    return len(list(gate.glob("reached-*")))


def test_a_held_upload_makes_the_next_wait_but_not_the_polls(stack: Stack, gate: Path) -> None:
    with stack.http() as http:
        dataset_id = http.post("/datasets", json=GT).json()["id"]
        (gate / "open").touch()
        earlier = _submit(http, dataset_id)
        assert earlier.status_code == 202, earlier.text
        (gate / "open").unlink()

        with ThreadPoolExecutor(2) as pool, stack.http() as a, stack.http() as b:
            try:
                # Upload A, checked, waits at the gate while it holds the only slot.
                first = pool.submit(_submit, a, dataset_id)
                wait_for(lambda: _reached(gate), lambda n: n == 2, 30, "upload A at the gate")
                # Upload B is received in full, then waits for the slot: it never reaches
                # the gate, while polls (and other requests) are answered as usual.
                second = pool.submit(_submit, b, dataset_id)
                deadline = time.monotonic() + 1.5
                while time.monotonic() < deadline:
                    poll = http.get(f"/evaluations/{earlier.json()['id']}")
                    assert poll.status_code == 200, poll.text
                    assert http.get(f"/datasets/{dataset_id}").status_code == 200
                    assert _reached(gate) == 2, "upload B was let in while A held the only slot"
                    assert not first.done() and not second.done()
                    time.sleep(0.05)
            finally:
                (gate / "open").touch()
            accepted = [first.result(timeout=60), second.result(timeout=60)]
        assert [r.status_code for r in accepted] == [202, 202], [r.text for r in accepted]
        assert _reached(gate) == 3

        for response in (earlier, *accepted):
            done = stack.wait_finished(http, response.json()["id"])
            assert done["status"] == "succeeded", done
    assert list((stack.data_dir / "tmp").glob("*.part")) == []

"""Upload admission on the real stack: an API process receives and checks at most
``DETEVAL_CONCURRENT_UPLOADS`` uploads at once; later uploads wait their turn while
status polls are still answered, and every upload is accepted in the end."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_stack import KEYS, Stack, wait_for

GT = {
    "images": [{"id": i, "width": 640, "height": 480} for i in range(1, 11)],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 50, 40], "area": 2000}
        for i in range(1, 11)
    ],
}
# Large enough that half of the form ends inside the predictions part.
PREDICTIONS = json.dumps(
    [
        {"image_id": 1 + i % 10, "category_id": 1, "bbox": [11, 9, 50, 41], "score": i / 3000}
        for i in range(3000)
    ]
).encode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"), concurrent_uploads="1").start()
    running.start_worker()
    try:
        yield running
    finally:
        running.stop()


def _form(dataset_id: str) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://api/v1/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", PREDICTIONS)},
    )
    return request.read(), request.headers["Content-Type"]


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the answer's head; got {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(v)
        for k, _, v in (line.partition(":") for line in lines[1:])
        if k.lower() == "content-length"
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the answer's body"
        body += chunk
    return int(lines[0].split()[1]), body


def _parts_being_received(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "tmp").glob("*.part"))


def test_a_held_upload_makes_the_next_wait_but_not_the_polls(stack: Stack) -> None:
    with stack.http() as http:
        dataset_id = http.post("/datasets", json=GT).json()["id"]
        body, content_type = _form(dataset_id)
        earlier = http.post(
            "/evaluations", content=body, headers={"Content-Type": content_type}
        ).json()["id"]

        # Upload A sends half its body and stalls: it holds the only upload slot.
        held = socket.create_connection(("127.0.0.1", stack.port), timeout=60)
        head = (
            "POST /v1/evaluations HTTP/1.1\r\nHost: api\r\n"
            f"Authorization: Bearer {KEYS['alice']}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        held.sendall(head + body[: len(body) // 2])
        wait_for(
            lambda: _parts_being_received(stack.data_dir),
            lambda parts: len(parts) == 1,
            30,
            "upload A's predictions to be streamed to a temp file",
        )

        # Upload B, complete, waits for the slot; polls are answered meanwhile.
        with ThreadPoolExecutor(1) as pool, stack.http() as other:
            waiting = pool.submit(
                other.post, "/evaluations", content=body, headers={"Content-Type": content_type}
            )
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                poll = http.get(f"/evaluations/{earlier}")
                assert poll.status_code == 200, poll.text
                assert not waiting.done(), "upload B was taken in while A held the only slot"
                time.sleep(0.05)
            assert len(_parts_being_received(stack.data_dir)) == 1  # B's body not read yet

            held.sendall(body[len(body) // 2 :])
            status, answer = _read_answer(held)
            held.close()
            assert status == 202, answer
            second = waiting.result(timeout=60)
            assert second.status_code == 202, second.text

        for evaluation_id in (json.loads(answer)["id"], second.json()["id"], earlier):
            assert stack.wait_finished(http, evaluation_id)["status"] == "succeeded"
    assert _parts_being_received(stack.data_dir) == []

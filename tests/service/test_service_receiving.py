"""Receiving request bodies on the real API: deadlines and the in-flight cap.

Raw sockets play the clients httpx will not be: one that stops sending mid-body, one
that trickles. Each gets 408 once ``DETEVAL_BODY_IDLE_TIMEOUT_SECONDS`` pass without a
byte, or once its average rate after ``DETEVAL_BODY_RATE_GRACE_SECONDS`` is below
``DETEVAL_BODY_MIN_RATE_KIB``; its temporary file is gone by then. An upload that would
take the bytes held at once past ``DETEVAL_MAX_INFLIGHT_UPLOAD_MB`` gets 503 with
Retry-After, and is accepted once the bytes are let go. The settings are small here so
that the tests are quick.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_stack import KEYS, Stack, wait_for
from service_stack import SMALL_GT as GT

IDLE_SECONDS = 2
GRACE_SECONDS = 2
MIN_RATE_KIB = 8
INFLIGHT_MB = 1.5  # the stack's upload limit is 1 MB
#: The longest a test waits for an answer before failing (far above the deadlines).
ANSWER_WAIT = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API alone: bodies are received before any job exists."""
    running = Stack(
        tmp_path_factory.mktemp("recv"),
        body_idle_timeout_seconds=str(IDLE_SECONDS),
        body_rate_grace_seconds=str(GRACE_SECONDS),
        body_min_rate_kib=str(MIN_RATE_KIB),
        max_inflight_upload_mb=str(INFLIGHT_MB),
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _gt_body(size: int) -> bytes:
    """Valid ground truth, padded with trailing blanks to ``size`` bytes."""
    body = json.dumps(GT).encode()
    return body + b" " * (size - len(body))


def _multipart(size: int) -> tuple[bytes, str]:
    """A dataset upload as multipart, ``size`` bytes long, and its Content-Type."""
    boundary = "deteval-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gt.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = head + _gt_body(size - len(head) - len(tail)) + tail
    return body, f"multipart/form-data; boundary={boundary}"


class RawUpload:
    """One POST /v1/datasets over a plain socket, sent piece by piece.

    Parameters
    ----------
    body : bytes
        The whole body; its length is declared in Content-Length.
    """

    def __init__(self, stack: Stack, body: bytes, content_type: str = "application/json") -> None:
        self.body = body
        self.sent = 0
        self.sock = socket.create_connection(("127.0.0.1", stack.port), timeout=ANSWER_WAIT)
        head = (
            f"POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {KEYS['alice']}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def send(self, n: int) -> None:
        """Send the next ``n`` bytes of the body."""
        self.sock.sendall(self.body[self.sent : self.sent + n])
        self.sent += n

    def answered(self, wait: float = 0.0) -> bool:
        """Whether an answer is there to read (waiting up to ``wait`` seconds)."""
        return bool(select.select([self.sock], [], [], wait)[0])

    def answer(self) -> tuple[int, bytes]:
        """The status and the rest of the answer (read until the server closes or the
        body is complete)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 "), data[:200]
        headers = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if line
        )
        length = int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(head.split()[1]), head + b"\r\n\r\n" + rest

    def close(self) -> None:
        self.sock.close()


def _temp_files(stack: Stack) -> list[Path]:
    return list((stack.data_dir / "tmp").iterdir())


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_stalled_uploads_get_408_and_their_temp_files_go(stack: Stack, kind: str) -> None:
    uploads = []
    for _ in range(5):
        if kind == "json":
            upload = RawUpload(stack, _gt_body(100_000))
        else:
            upload = RawUpload(stack, *_multipart(100_000))
        upload.send(50_000)  # half, then nothing more
        uploads.append(upload)
    try:
        wait_for(lambda: len(_temp_files(stack)), lambda n: n == 5, 30, "5 uploads in tmp/")
        for upload in uploads:
            status, answer = upload.answer()
            assert status == 408, answer
            assert b"application/problem+json" in answer and b"request-timeout" in answer
            assert b"no byte of the body arrived" in answer, answer
        assert _temp_files(stack) == []
    finally:
        for upload in uploads:
            upload.close()


def test_a_trickling_upload_gets_408(stack: Stack) -> None:
    upload = RawUpload(stack, _gt_body(100_000))
    try:
        deadline = time.monotonic() + ANSWER_WAIT
        # 100 bytes every 0.25 s: never idle for long, but far below the minimum rate.
        while not upload.answered(0.25):
            assert time.monotonic() < deadline, f"no answer after {upload.sent} bytes"
            upload.send(100)
        status, answer = upload.answer()
        assert status == 408, answer
        assert b"slower than the minimum of 8 KiB/s" in answer, answer
        assert _temp_files(stack) == []
    finally:
        upload.close()


def test_an_upload_with_a_short_pause_is_accepted(stack: Stack) -> None:
    upload = RawUpload(stack, _gt_body(200_000))
    try:
        upload.send(100_000)
        time.sleep(IDLE_SECONDS / 4)
        upload.send(100_000)
        status, answer = upload.answer()
        assert status == 201, answer
    finally:
        upload.close()


def test_the_inflight_cap_gives_503_then_accepts(stack: Stack) -> None:
    held = RawUpload(stack, _gt_body(1_000_000))  # within the 1 MB limit, held open
    try:
        held.send(500_000)
        wait_for(lambda: len(_temp_files(stack)), lambda n: n == 1, 30, "the held upload")
        with stack.http() as http:
            # 1 MB held + 0.7 MB > 1.5 MiB: refused, after its body was read (no reset).
            refused = http.post(
                "/datasets",
                content=_gt_body(700_000),
                headers={"Content-Type": "application/json"},
            )
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"].isdigit()
            assert refused.json()["type"].endswith("/uploads-busy"), refused.text
            held.send(1000)  # still sending: well within its deadlines
            # A small one still fits beside the held one.
            small = http.post("/datasets", json=GT)
            assert small.status_code == 201, small.text

            held.send(499_000)
            status, answer = held.answer()
            assert status == 201, answer
            again = http.post(
                "/datasets",
                content=_gt_body(700_000),
                headers={"Content-Type": "application/json"},
            )
            assert again.status_code == 201, again.text
    finally:
        held.close()
    assert _temp_files(stack) == []

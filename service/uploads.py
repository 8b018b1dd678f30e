"""Receive request bodies into temporary files, streaming, with a size limit.

A body is never held in memory whole: raw bodies and multipart file parts go to files
under the storage's ``tmp/`` chunk by chunk while the byte count is checked against the
limit. When anything is rejected, every temporary file of the request is deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from service.errors import BadRequest, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from service.storage import Storage

MAX_TEXT_FIELD_BYTES = 1024


@dataclass
class Upload:
    """What one request delivered: file parts as temp files, text parts as strings."""

    files: dict[str, Path] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Delete every temp file still here (committed files have been moved away)."""
        for path in self.files.values():
            path.unlink(missing_ok=True)


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {int(declared)} bytes exceeds the limit of {limit} bytes",
            limit_bytes=limit,
        )


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes", limit_bytes=limit)
        yield chunk


def _media_type(request: Request) -> tuple[str, dict[bytes, bytes]]:
    media, params = parse_options_header(request.headers.get("content-type", ""))
    return media.decode("latin-1").lower(), params


async def receive_json_body(request: Request, storage: Storage, limit: int, name: str) -> Upload:
    """Stream a raw ``application/json`` body to a temp file, as file ``name``."""
    _check_declared_length(request, limit)
    upload = Upload()
    path = storage.new_temp_file()
    upload.files[name] = path
    try:
        with path.open("wb") as f:
            async for chunk in _limited(request, limit):
                f.write(chunk)
    except BaseException:
        upload.discard()
        raise
    return upload


class _MultipartSink:
    """Callbacks for python-multipart's streaming parser that write parts to temp files."""

    def __init__(self, storage: Storage, file_fields: set[str], text_fields: set[str]) -> None:
        self.storage = storage
        self.file_fields = file_fields
        self.text_fields = text_fields
        self.upload = Upload()
        self.finished = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._name = ""
        self._file: BinaryIO | None = None
        self._text: bytearray | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        name = params.get(b"name")
        if disposition != b"form-data" or name is None:
            raise BadRequest("multipart part without 'Content-Disposition: form-data; name=...'")
        self._name = name.decode("utf-8", "replace")
        if self._name in self.upload.files or self._name in self.upload.fields:
            raise InvalidRequest(f"form field {self._name!r} given twice")
        # The client's file name is ignored: stored names are ours alone.
        if self._name in self.file_fields:
            path = self.storage.new_temp_file()
            self.upload.files[self._name] = path
            self._file = path.open("wb")
        elif self._name in self.text_fields:
            self._text = bytearray()
        else:
            expected = sorted(self.file_fields | self.text_fields)
            raise InvalidRequest(
                f"unexpected form field {self._name!r}; expected fields: {', '.join(expected)}"
            )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._text is not None:
            self._text.extend(data[start:end])
            if len(self._text) > MAX_TEXT_FIELD_BYTES:
                raise InvalidRequest(
                    f"form field {self._name!r} is longer than {MAX_TEXT_FIELD_BYTES} bytes"
                )

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._text is not None:
            try:
                self.upload.fields[self._name] = self._text.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InvalidRequest(f"form field {self._name!r} is not UTF-8 text") from exc
            self._text = None

    def _end(self) -> None:
        self.finished = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_multipart(
    request: Request,
    storage: Storage,
    limit: int,
    file_fields: set[str],
    text_fields: set[str],
) -> Upload:
    """Stream a ``multipart/form-data`` body: file parts to temp files, text parts to strings.

    Raises
    ------
    UnsupportedMediaType
        The body is not multipart/form-data.
    PayloadTooLarge
        More than ``limit`` bytes (declared or received).
    BadRequest
        No boundary, or a malformed or truncated multipart body.
    InvalidRequest
        A field not in ``file_fields | text_fields``, a repeated field, or an oversized or
        non-UTF-8 text field.
    """
    media, params = _media_type(request)
    if media != "multipart/form-data":
        raise UnsupportedMediaType(
            f"expected multipart/form-data, got {media or 'no Content-Type'}"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data Content-Type without a boundary")
    _check_declared_length(request, limit)
    sink = _MultipartSink(storage, file_fields, text_fields)
    try:
        try:
            parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        except ValueError as exc:
            raise BadRequest(f"invalid multipart boundary: {exc}") from exc
        try:
            async for chunk in _limited(request, limit):
                parser.write(chunk)
            parser.finalize()
        except ValueError as exc:  # python-multipart's parse errors are ValueErrors
            raise BadRequest(f"malformed multipart body: {exc}") from exc
        if not sink.finished:
            raise BadRequest("multipart body ended before its closing boundary")
    except BaseException:
        sink.close()
        sink.upload.discard()
        raise
    return sink.upload


def require_media_type(request: Request, allowed: set[str]) -> str:
    """The request's media type, or 415 if it is not one of ``allowed``."""
    media, _ = _media_type(request)
    if media not in allowed:
        raise UnsupportedMediaType(
            f"expected {' or '.join(sorted(allowed))}, got {media or 'no Content-Type'}"
        )
    return media

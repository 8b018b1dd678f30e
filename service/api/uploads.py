"""Receive request bodies into temporary files, streaming, within limits.

A body is never held in memory whole: raw bodies and multipart file parts go to files
under the storage's ``tmp/`` chunk by chunk, under the size limit and the deadlines of
:mod:`service.api.receiving` (408 when they pass). Before a body is read, the upload is
admitted: its declared size must fit in the bytes this API process may hold at once
(else 503) and leave the free-space reserve of the data directory intact (else 507);
the reserve is checked again after each MiB received, and a write that finds no room is
a 507 too. The bytes are held until the route discards the upload (checked and stored,
or refused). When anything is rejected, every temporary file of the request is deleted
at once; a refusal for lack of room (507, 503) is answered after the rest of the body
was read and dropped, so that a client still sending reads the answer rather than a
reset connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NoReturn

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from service.api.errors import (
    BadRequest,
    InsufficientStorage,
    InvalidRequest,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
    UploadsBusy,
)
from service.api.receiving import BodyDeadlines, InflightBytes, body_chunks
from service.backend.config import Settings
from service.backend.storage import Storage, is_out_of_space

#: The largest text part of a multipart body: labels (a dataset's description of up to
#: 2000 characters in UTF-8) fit, files do not.
MAX_TEXT_FIELD_BYTES = 8192


@dataclass
class Upload:
    """What one request delivered: file parts as temp files, text parts as strings.

    ``release`` gives back the upload's share of the in-flight bytes; :meth:`discard`
    calls it.
    """

    files: dict[str, Path] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    release: Callable[[], None] | None = None

    def discard(self) -> None:
        """Delete every temp file still here (committed files have been moved away) and
        give back the in-flight bytes."""
        for path in self.files.values():
            path.unlink(missing_ok=True)
        if self.release is not None:
            self.release()
            self.release = None


def _declared_length(request: Request, limit: int) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return None
    if int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {int(declared)} bytes exceeds the limit of {limit} bytes",
            limit_bytes=limit,
        )
    return int(declared)


def _media_type(request: Request) -> tuple[str, dict[bytes, bytes]]:
    media, params = parse_options_header(request.headers.get("content-type", ""))
    return media.decode("latin-1").lower(), params


class _MultipartSink:
    """Callbacks for python-multipart's streaming parser that write parts to temp files."""

    def __init__(
        self, storage: Storage, upload: Upload, file_fields: set[str], text_fields: set[str]
    ) -> None:
        self.storage = storage
        self.file_fields = file_fields
        self.text_fields = text_fields
        self.upload = upload
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
        """Close the file being written, if any (after a failure: it is deleted next, so
        a flush that fails for lack of room loses nothing)."""
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()


class Receiver:
    """Receives the upload bodies of one API process.

    Parameters
    ----------
    storage : Storage
        Where bodies are written (its ``tmp/``).
    limit : int
        The largest body, in bytes.
    deadlines : BodyDeadlines
        How long a body may take.
    inflight : InflightBytes
        The upload bytes this process may hold at once.
    min_free_bytes : int
        The free space an upload must leave in the data directory.
    """

    def __init__(
        self,
        storage: Storage,
        limit: int,
        deadlines: BodyDeadlines,
        inflight: InflightBytes,
        min_free_bytes: int,
    ) -> None:
        self.storage = storage
        self.limit = limit
        self.deadlines = deadlines
        self.inflight = inflight
        self.min_free_bytes = min_free_bytes

    @classmethod
    def from_settings(cls, storage: Storage, settings: Settings) -> Receiver:
        """A receiver with the limits ``settings`` give."""
        return cls(
            storage,
            settings.max_upload_bytes,
            BodyDeadlines(
                settings.body_idle_timeout_seconds,
                settings.body_rate_grace_seconds,
                settings.body_min_rate_kib * 1024,
            ),
            InflightBytes(settings.max_inflight_upload_bytes),
            settings.min_free_bytes,
        )

    # -- admission and refusal -----------------------------------------------------------
    def _no_room(self, why: str) -> InsufficientStorage:
        free = self.storage.free_bytes()
        return InsufficientStorage(
            f"{why}: the data directory has {free} bytes free and keeps "
            f"{self.min_free_bytes} for the reports of accepted evaluations; nothing was "
            "stored, retry later",
            free_bytes=free,
        )

    def _check_space(self) -> None:
        if self.storage.free_bytes() < self.min_free_bytes:
            raise self._no_room("no room left for the rest of this upload")

    async def _refuse(self, request: Request, error: ServiceError) -> NoReturn:
        """Read and drop the rest of the body (within the limits), then raise ``error``."""
        with contextlib.suppress(ServiceError, ClientDisconnect):
            async for _ in body_chunks(request, self.limit, self.deadlines):
                pass
        raise error

    async def _admit(self, request: Request) -> Upload:
        """Take the upload's share of the in-flight bytes, if it fits and leaves room.

        A body of unknown length counts as the size limit against the in-flight bytes,
        and is checked for room as it arrives.
        """
        declared = _declared_length(request, self.limit)
        if self.storage.free_bytes() - (declared or 0) < self.min_free_bytes:
            await self._refuse(request, self._no_room(f"no room for {declared or 0} bytes"))
        amount = self.limit if declared is None else declared
        release = self.inflight.take(amount)
        if release is None:
            await self._refuse(
                request,
                UploadsBusy(
                    f"this API process already receives {self.inflight.used} upload bytes; "
                    f"{amount} more would exceed its limit of {self.inflight.capacity}; "
                    "retry later",
                ),
            )
        return Upload(release=release)

    async def _failed(self, request: Request, exc: BaseException) -> None:
        """After a failed receive: when it was for lack of room, answer 507 (not 500)."""
        if is_out_of_space(exc):
            await self._refuse(request, self._no_room(f"writing this upload failed ({exc})"))
        if isinstance(exc, InsufficientStorage):
            await self._refuse(request, exc)

    def _chunks(self, request: Request) -> AsyncIterator[bytes]:
        return body_chunks(request, self.limit, self.deadlines, every_mib=self._check_space)

    # -- bodies --------------------------------------------------------------------------
    async def json_body(self, request: Request, name: str) -> Upload:
        """Stream a raw ``application/json`` body to a temp file, as file ``name``.

        Raises
        ------
        PayloadTooLarge, RequestTimeout, InsufficientStorage, UploadsBusy
            See the module docstring.
        """
        upload = await self._admit(request)
        try:
            path = self.storage.new_temp_file()
            upload.files[name] = path
            with path.open("wb") as f:
                async for chunk in self._chunks(request):
                    f.write(chunk)
        except BaseException as exc:
            upload.discard()
            await self._failed(request, exc)
            raise
        return upload

    async def multipart(
        self, request: Request, file_fields: set[str], text_fields: set[str]
    ) -> Upload:
        """Stream a ``multipart/form-data`` body: file parts to temp files, text parts to
        strings.

        Raises
        ------
        UnsupportedMediaType
            The body is not multipart/form-data.
        PayloadTooLarge, RequestTimeout, InsufficientStorage, UploadsBusy
            See the module docstring.
        BadRequest
            No boundary, or a malformed or truncated multipart body.
        InvalidRequest
            A field not in ``file_fields | text_fields``, a repeated field, or an
            oversized or non-UTF-8 text field.
        """
        media, params = _media_type(request)
        if media != "multipart/form-data":
            raise unsupported_media_type(media, ["multipart/form-data"])
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("multipart/form-data Content-Type without a boundary")
        upload = await self._admit(request)
        sink = _MultipartSink(self.storage, upload, file_fields, text_fields)
        try:
            try:
                parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
            except ValueError as exc:
                raise BadRequest(f"invalid multipart boundary: {exc}") from exc
            try:
                async for chunk in self._chunks(request):
                    parser.write(chunk)
                parser.finalize()
            except ValueError as exc:  # python-multipart's parse errors are ValueErrors
                raise BadRequest(f"malformed multipart body: {exc}") from exc
            if not sink.finished:
                raise BadRequest("multipart body ended before its closing boundary")
        except BaseException as exc:
            sink.close()
            upload.discard()
            await self._failed(request, exc)
            raise
        return upload


#: How to send a body of each accepted media type with curl, for the 415 answer.
CURL_HINTS = {
    "application/json": "curl -H 'Content-Type: application/json' --data-binary @FILE.json",
    "multipart/form-data": "curl -F field=@FILE.json",
}


def unsupported_media_type(media: str, accepted: list[str]) -> UnsupportedMediaType:
    """The 415 for a body of type ``media``: which types are accepted, and how to send one.

    curl labels a ``--data-binary`` body ``application/x-www-form-urlencoded`` unless told
    otherwise, the usual way to get here, so the answer says how to send each type.
    """
    hints = "; ".join(f"{m}: {CURL_HINTS[m]}" for m in accepted)
    return UnsupportedMediaType(
        f"expected {' or '.join(accepted)}, got {media or 'no Content-Type'}; "
        f"send the Content-Type header (with curl, {hints})",
        accepted=accepted,
    )


def require_media_type(request: Request, allowed: set[str]) -> str:
    """The request's media type, or 415 if it is not one of ``allowed``."""
    media, _ = _media_type(request)
    if media not in allowed:
        raise unsupported_media_type(media, sorted(allowed))
    return media

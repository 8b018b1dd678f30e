"""Storage in an S3-API object store (AWS S3, MinIO, ...), for API and worker hosts that
share no volume.

Layout under the bucket and the optional key prefix::

    datasets/<tenant>/<id>/gt.json
    datasets/<tenant>/<id>/manifest.json        written last: {"files": {...}, "summary": {...}}
    evaluations/<tenant>/<id>/predictions.json  (and ground_truth.json for inline ground truth)
    evaluations/<tenant>/<id>/manifest.json     written last: {"files": {...}}
    evaluations/<tenant>/<id>/report.json       one PUT

A resource exists iff its manifest does. Committing uploads its files first (their keys
are fresh: no reader looks there before the manifest exists), then PUTs the manifest,
and one PUT is atomic: a reader never sees half a resource. Deleting removes the
manifest first (the resource is gone in one step), then the files. Objects under a
resource with no manifest, last written more than the sweeper's stale time ago, are
leftovers of a crash (a commit or a deletion cut short, a report written after its
evaluation was deleted) and :meth:`S3Storage.remove_orphans` (the sweeper) removes them.

Files move between local disk and the store by streaming (multipart for big ones), never
whole in memory; readers get temporary local copies that are removed after use.
Errors are translated for the callers: a missing object is ``FileNotFoundError``, an
unreachable or overloaded store ``ConnectionError`` / ``TimeoutError`` (retried by the
workers), any other refusal an ``OSError`` saying what the store answered.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import orjson
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from service.backend.config import Settings
from service.backend.storage.base import DATASETS, EVALUATIONS, REPORT_FILE, Storage

MANIFEST_FILE = "manifest.json"
#: The sweeper lists the whole store for leftovers at most this often (per process).
ORPHAN_SCAN_SECONDS = 300.0
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_OUT_OF_SPACE = frozenset({"XMinioStorageFull"})
_TRANSIENT = frozenset({"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError"})


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Raise the object store's errors inside the block as the built-in exceptions the
    service handles (see the module docstring), saying ``what`` was being done."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        said = f"{what}: the object store answered {code or status} ({error.get('Message', '')})"
        if code in _MISSING:
            raise FileNotFoundError(errno.ENOENT, said) from exc
        if code in _OUT_OF_SPACE:
            raise OSError(errno.ENOSPC, said) from exc
        if code in _TRANSIENT or status >= 500:
            raise ConnectionError(said) from exc
        raise OSError(errno.EIO, said) from exc
    except S3UploadFailedError as exc:  # boto3 flattens the upload's ClientError to text
        raise ConnectionError(f"{what}: {exc}") from exc
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise TimeoutError(f"{what}: the object store did not answer in time ({exc})") from exc
    except (EndpointConnectionError, ConnectionClosedError) as exc:
        raise ConnectionError(f"{what}: the object store cannot be reached ({exc})") from exc
    except BotoCoreError as exc:
        raise OSError(errno.EIO, f"{what}: {exc}") from exc


def client_from_settings(settings: Settings) -> Any:
    """A boto3 S3 client for the ``s3_*`` settings (credentials from the standard AWS
    chain when they are not set)."""
    secret = settings.s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region or "us-east-1",
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            # A custom endpoint (MinIO, ...) is addressed by path, not by bucket host name.
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        ),
    )


class S3Storage(Storage):
    """An S3 bucket (under a key prefix), with uploads received in ``scratch/tmp``.

    Parameters
    ----------
    client : botocore client
        An S3 client (:func:`client_from_settings`).
    bucket : str
    prefix : str
        Prepended to every key ("" or ending in "/").
    scratch : Path
        Local directory for uploads being received and temporary copies.
    """

    def __init__(self, client: Any, bucket: str, prefix: str, scratch: Path) -> None:
        super().__init__(scratch)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._next_scan = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The store the settings name (``s3_bucket`` must be set)."""
        if settings.s3_bucket is None:
            raise ValueError("DETEVAL_STORAGE=s3 needs DETEVAL_S3_BUCKET")
        return cls(
            client_from_settings(settings),
            settings.s3_bucket,
            settings.s3_prefix,
            settings.data_dir,
        )

    def _key(self, kind: str, tenant: str, resource_id: str, name: str = "") -> str:
        return f"{self.prefix}{kind}/{tenant}/{resource_id}/{name}"

    def writable(self) -> bool:
        try:
            with translated("checking the bucket"):
                self.client.head_bucket(Bucket=self.bucket)
        except OSError:
            return False
        return True

    # -- writing -------------------------------------------------------------------------
    def _commit(
        self, kind: str, tenant: str, resource_id: str, files: dict[str, Path], summary: dict | None
    ) -> None:
        manifest: dict[str, Any] = {"files": {}}
        if summary is not None:
            manifest["summary"] = summary
        try:
            for name, path in files.items():
                manifest["files"][name] = path.stat().st_size
                with translated(f"storing {name}"):
                    self.client.upload_file(
                        os.fspath(path), self.bucket, self._key(kind, tenant, resource_id, name)
                    )
            with translated(f"storing the {kind[:-1]}'s manifest"):
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(kind, tenant, resource_id, MANIFEST_FILE),
                    Body=orjson.dumps(manifest),
                    ContentType="application/json",
                )
        except BaseException:
            self._delete_all(self._key(kind, tenant, resource_id), quiet=True)
            raise
        finally:
            for path in files.values():
                path.unlink(missing_ok=True)

    def _write_report(self, tenant: str, evaluation_id: str, data: bytes) -> None:
        with translated("storing the report"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(EVALUATIONS, tenant, evaluation_id, REPORT_FILE),
                Body=data,
                ContentType="application/json",
            )

    # -- removing ------------------------------------------------------------------------
    def _remove(self, kind: str, tenant: str, resource_id: str) -> bool:
        prefix = self._key(kind, tenant, resource_id)
        with translated(f"deleting the {kind[:-1]}'s manifest"):
            self.client.delete_object(Bucket=self.bucket, Key=prefix + MANIFEST_FILE)
        self._delete_all(prefix)
        return not self.objects(prefix)

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix`` (its ``Key``, ``LastModified``, ...)."""
        objects: list[dict[str, Any]] = []
        with translated("listing the object store"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                objects += page.get("Contents", [])
        return objects

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            with translated("deleting objects"):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )

    def _delete_all(self, prefix: str, quiet: bool = False) -> None:
        """Delete every object under ``prefix``; with ``quiet``, a failure is left to
        the sweeper (the caller is already failing)."""
        try:
            self._delete_keys([obj["Key"] for obj in self.objects(prefix)])
        except OSError:
            if not quiet:
                raise

    def _remove_orphans(self, cutoff: float) -> int:
        now = time.monotonic()
        if now < self._next_scan:
            return 0
        self._next_scan = now + ORPHAN_SCAN_SECONDS
        resources: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for kind in (DATASETS, EVALUATIONS):
            for obj in self.objects(f"{self.prefix}{kind}/"):
                resources[obj["Key"].rsplit("/", 1)[0]].append(obj)
        doomed: list[str] = []
        for objects in resources.values():
            if any(obj["Key"].endswith("/" + MANIFEST_FILE) for obj in objects):
                continue
            if max(obj["LastModified"].timestamp() for obj in objects) < cutoff:
                doomed += [obj["Key"] for obj in objects]
        self._delete_keys(doomed)
        return len(doomed)

    # -- reading -------------------------------------------------------------------------
    def _summary(self, tenant: str, dataset_id: str) -> dict | None:
        try:
            data = self._read(DATASETS, tenant, dataset_id, MANIFEST_FILE)
        except FileNotFoundError:
            return None
        summary: dict = orjson.loads(data)["summary"]
        return summary

    def _require_manifest(self, kind: str, tenant: str, resource_id: str) -> None:
        """FileNotFoundError unless the resource exists (its files alone do not make it)."""
        with translated(f"looking up the {kind[:-1]}"):
            self.client.head_object(
                Bucket=self.bucket, Key=self._key(kind, tenant, resource_id, MANIFEST_FILE)
            )

    def _read(self, kind: str, tenant: str, resource_id: str, name: str) -> bytes:
        if name != MANIFEST_FILE:
            self._require_manifest(kind, tenant, resource_id)
        with translated(f"reading {name}"):
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self._key(kind, tenant, resource_id, name)
            )
            data: bytes = answer["Body"].read()
        return data

    @contextmanager
    def _local_file(self, kind: str, tenant: str, resource_id: str, name: str) -> Iterator[Path]:
        fd, temp = tempfile.mkstemp(dir=self.tmp, suffix=f".{name}")
        os.close(fd)
        path = Path(temp)
        try:
            self._require_manifest(kind, tenant, resource_id)
            with translated(f"fetching {name}"):
                self.client.download_file(
                    self.bucket, self._key(kind, tenant, resource_id, name), temp
                )
            yield path
        finally:
            path.unlink(missing_ok=True)

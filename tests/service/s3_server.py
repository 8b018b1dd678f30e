"""An S3-protocol server for the tests: moto's standalone server in its own process on
loopback (the service talks to it over real HTTP, as it would to MinIO or AWS)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from service_stack import free_port, wait_for

from service.backend.procs import spawn, stop_group

ACCESS_KEY, SECRET_KEY, REGION = "deteval-test", "deteval-test-secret", "us-east-1"


class S3Server:
    """``python -m moto.server`` on 127.0.0.1, logging to ``log``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        with self.log.open("ab") as out:
            self.process = spawn(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._answers, bool, 60, f"the S3 server on {self.url}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the S3 server exited: {self.log.read_text(errors='replace')}")
        try:
            httpx.get(self.url, timeout=2)
        except httpx.HTTPError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)

    def client(self) -> Any:
        """A boto3 client of this server."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        """Create an empty bucket with a fresh name; its name."""
        name = f"deteval-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in ``bucket`` under ``prefix``, by listing."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def settings(self, bucket: str, prefix: str = "") -> dict[str, Any]:
        """The service's settings (lowercase names, no ``DETEVAL_``) for ``bucket``."""
        return {
            "storage": "s3",
            "s3_endpoint_url": self.url,
            "s3_bucket": bucket,
            "s3_prefix": prefix,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
        }

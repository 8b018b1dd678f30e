"""Service settings: one pydantic-settings class read from ``DETEVAL_*`` variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens.
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: A key prefix: path segments of safe characters, no leading slash.
PREFIX_PATTERN = re.compile(r"^([A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]*$")
MIN_KEY_LENGTH = 16
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Everything the API, the workers and ``deteval serve`` can be configured with.

    Each field is read from the environment variable ``DETEVAL_<FIELD>`` (e.g.
    ``DETEVAL_REDIS_URL``). Unsafe or inconsistent values are refused at start-up rather
    than discovered under load.
    """

    model_config = SettingsConfigDict(env_prefix="DETEVAL_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        description="Job store, e.g. redis://host:6379/0 or unix:///path/redis.sock. "
        "Unset: `deteval serve` starts a private server under the data directory.",
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker (a Redis URL); defaults to redis_url."
    )
    data_dir: Path = Field(default=Path("data"), description="Uploads, reports, embedded Redis.")
    api_keys: SecretStr = Field(
        default=SecretStr(""), description='Comma-separated "tenant:key" pairs.'
    )
    max_upload_mb: float = Field(default=200.0, gt=0, description="Largest accepted body.")
    job_max_attempts: int = Field(default=3, ge=1, description="Worker starts before failing.")
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A running job whose worker stops heartbeating for "
        "this long is handed to another worker.",
    )
    queued_resend_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A job still queued this long after its last send "
        "is sent again (a lost broker message).",
    )
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    task_time_limit_seconds: int = Field(
        default=3600, ge=2, description="Hard limit per scoring task (the worker child is killed)."
    )
    visibility_timeout_seconds: int = Field(
        default=3900,
        description="Broker redelivery of unacknowledged tasks; must exceed "
        "the hard time limit, or long jobs run twice at once.",
    )
    pool_processes: int = Field(
        default=0,
        ge=0,
        description="Processes per API process for CPU-bound work (checking uploads, "
        "rendering pages); 0: the CPU count.",
    )
    concurrent_uploads: int = Field(
        default=2,
        ge=1,
        description="Received uploads one API process checks and stores at once; later "
        "ones wait their turn, so a burst of uploads does not hold up the status polls.",
    )
    dataset_cache_size: int = Field(
        default=4,
        ge=0,
        description="Loaded datasets kept per validation process.",
    )
    min_free_mb: float = Field(
        default=256.0,
        ge=0,
        description="Free space kept in the data directory for the reports of accepted "
        "evaluations: an upload that would leave less is refused (507), and health says "
        "degraded while less is free.",
    )
    out_of_space_retry_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="How long a job whose files cannot be written for lack of space is "
        "retried (with back-off, not counted as attempts) before it fails (out_of_space).",
    )
    body_idle_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request body that sends no byte for this long is refused (408).",
    )
    body_rate_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="After this long, a request body must arrive at body_min_rate_kib on "
        "average or is refused (408).",
    )
    body_min_rate_kib: float = Field(
        default=8.0,
        ge=0,
        description="The slowest average rate (KiB/s) a request body may arrive at after "
        "the grace time; 0: no minimum.",
    )
    max_inflight_upload_mb: float = Field(
        default=0.0,
        ge=0,
        description="Upload bytes (as declared; the size limit when undeclared) one API "
        "process receives and holds, until checked and stored, at once; a new upload that "
        "would exceed it is refused (503, Retry-After). "
        "0: 2 x concurrent_uploads x max_upload_mb.",
    )

    retention_days: float = Field(
        default=0.0,
        ge=0,
        description="Evaluations older than this many days are deleted by the sweeper, and "
        "so are datasets that old once no evaluation uses them; 0: everything is kept.",
    )
    tenant_quota_mb: float = Field(
        default=0.0,
        ge=0,
        description="Storage one tenant's datasets and evaluations (uploads and reports) "
        "may take; an upload that would take more is refused (409, quota-exceeded) until "
        "the tenant deletes some. 0: no quota.",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve the Prometheus metrics at GET /metrics (counts only, no tenant "
        "data); false: no such route.",
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="A bearer token GET /metrics then requires (Authorization: Bearer "
        "TOKEN); empty: it needs none, as scrapers usually expect.",
    )

    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="The key (at least 32 characters) signing web sessions and share links. "
        "Unset: one is generated once and kept in the job store, so every API process "
        "shares it; changing it signs everyone out and ends every share link.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="How long a web sign-in lasts before a new one."
    )
    share_max_days: float = Field(
        default=30.0, gt=0, description="The longest a share link may stay valid."
    )

    # -- storage (service.backend.storage) --------------------------------------------------
    storage: Literal["local", "s3"] = Field(
        default="local",
        description="Where datasets, evaluations and reports are kept: 'local' (the data "
        "directory) or 's3' (an S3-API object store, the s3_* settings). Uploads are "
        "received in the data directory either way.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="The object store's URL, e.g. http://minio:9000; unset: AWS."
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (it must exist).")
    s3_prefix: str = Field(default="", description="Prefix of every key, e.g. 'deteval/'.")
    s3_region: str | None = Field(default=None, description="Region; unset: us-east-1.")
    s3_access_key_id: str | None = Field(
        default=None, description="Unset: the standard AWS credential chain (AWS_* ...)."
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="The secret of s3_access_key_id."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.visibility_timeout_seconds <= self.task_time_limit_seconds:
            raise ValueError(
                f"visibility_timeout_seconds ({self.visibility_timeout_seconds}) must exceed "
                f"task_time_limit_seconds ({self.task_time_limit_seconds}), or the broker "
                "redelivers a long task while it is still running"
            )
        if 0 < self.max_inflight_upload_mb < self.max_upload_mb:
            raise ValueError(
                f"max_inflight_upload_mb ({self.max_inflight_upload_mb:g}) must be at least "
                f"max_upload_mb ({self.max_upload_mb:g}), or the largest uploads are never "
                "admitted"
            )
        secret = self.session_secret.get_secret_value()
        if secret and len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"session_secret must be at least {MIN_SECRET_LENGTH} characters, got "
                f"{len(secret)} (or leave it unset for a generated one)"
            )
        self.tenant_keys()  # validate the key list once, at start-up
        return self

    @model_validator(mode="after")
    def _storage_consistent(self) -> Settings:
        s3_given = [
            f"DETEVAL_{name.upper()}"
            for name in ("s3_endpoint_url", "s3_bucket", "s3_prefix", "s3_access_key_id")
            if getattr(self, name)
        ]
        if "storage" not in self.model_fields_set and s3_given:
            raise ValueError(
                f"{', '.join(s3_given)} set but DETEVAL_STORAGE is not: set DETEVAL_STORAGE=s3 "
                "to use the object store (or =local to keep the data directory)"
            )
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("DETEVAL_STORAGE=s3 needs DETEVAL_S3_BUCKET")
        if self.storage == "local":
            return self  # the s3_* settings are not used
        if not BUCKET_PATTERN.match(self.s3_bucket or ""):
            raise ValueError(
                f"DETEVAL_S3_BUCKET {self.s3_bucket!r} is not a bucket name (3-63 lowercase "
                "letters, digits, '.' or '-')"
            )
        if not PREFIX_PATTERN.match(self.s3_prefix):
            raise ValueError(
                f"DETEVAL_S3_PREFIX {self.s3_prefix!r} must be '/'-separated segments of "
                "letters, digits, '_', '.' or '-', with no leading '/'"
            )
        if self.s3_prefix and not self.s3_prefix.endswith("/"):
            self.s3_prefix += "/"
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set both DETEVAL_S3_ACCESS_KEY_ID and DETEVAL_S3_SECRET_ACCESS_KEY, or "
                "neither (then the standard AWS credential chain is used)"
            )
        return self

    @property
    def max_upload_bytes(self) -> int:
        """The upload size limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def min_free_bytes(self) -> int:
        """The free-space reserve of the data directory in bytes."""
        return int(self.min_free_mb * 1024 * 1024)

    @property
    def tenant_quota_bytes(self) -> int:
        """The per-tenant storage quota in bytes; 0: none."""
        return int(self.tenant_quota_mb * 1024 * 1024)

    @property
    def max_inflight_upload_bytes(self) -> int:
        """The cap on upload bytes received and held at once by one API process."""
        if self.max_inflight_upload_mb > 0:
            return int(self.max_inflight_upload_mb * 1024 * 1024)
        return 2 * self.concurrent_uploads * self.max_upload_bytes

    @property
    def effective_broker_url(self) -> str:
        """The broker URL in Celery's spelling (``unix://`` becomes ``redis+socket://``)."""
        url = self.broker_url or self.redis_url
        if url is None:
            raise ValueError("no Redis URL configured (set DETEVAL_REDIS_URL)")
        if url.startswith("unix://"):
            return "redis+socket://" + url.removeprefix("unix://")
        return url

    def tenant_keys(self) -> list[tuple[str, str]]:
        """Parse ``api_keys`` into ``(tenant, key)`` pairs.

        Raises
        ------
        ValueError
            If an entry is not ``tenant:key``, a tenant name is not a safe identifier, a key
            is shorter than 16 characters, or a key is listed twice.
        """
        pairs: list[tuple[str, str]] = []
        raw = self.api_keys.get_secret_value()
        for i, entry in enumerate(e.strip() for e in raw.split(",")):
            if not entry:
                continue
            tenant, sep, key = entry.partition(":")
            if not sep or not key:
                raise ValueError(f"DETEVAL_API_KEYS entry {i} must be 'tenant:key'")
            if not TENANT_PATTERN.match(tenant):
                raise ValueError(
                    f"DETEVAL_API_KEYS entry {i}: tenant {tenant!r} must be 1-64 letters, "
                    "digits, '_', '.' or '-'"
                )
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"DETEVAL_API_KEYS entry {i} (tenant {tenant!r}): key shorter than "
                    f"{MIN_KEY_LENGTH} characters"
                )
            if any(key == k for _, k in pairs):
                raise ValueError(f"DETEVAL_API_KEYS entry {i}: key listed twice")
            pairs.append((tenant, key))
        return pairs


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

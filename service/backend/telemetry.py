"""Service metrics kept in Redis, so that every API and worker process counts into the
same numbers, and their rendering in Prometheus' text format.

A metric family is one Redis hash, ``deteval:metrics:<name>``. A counter's fields are its
label sets (a JSON array of the label values), each holding a count (``HINCRBY``). A
histogram's fields are a label set with one of its bucket bounds appended, each holding
how many observations fell into that bucket and no lower one, and a label set with
``"sum"`` appended, holding the sum of the observations (``HINCRBYFLOAT``); the
cumulative buckets and the count are summed up when the metrics are rendered. Label
values come from short fixed lists (states, problem types, evaluation types), never from
what a tenant sends, so the number of fields stays bounded.

Counting is best effort: a process that dies between a job's transition and its count
loses that count; nothing else depends on these numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
import redis

PREFIX = "deteval:metrics:"
#: The content type of Prometheus' text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SUM = "sum"
_INF = "+Inf"

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Family:
    """One metric: its name, type, help text, label names and (histograms) bucket bounds.

    Attributes
    ----------
    buckets : tuple of float
        Increasing upper bounds of a histogram's buckets, without ``+Inf`` (implied).
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        """The Redis hash a stored family lives in."""
        return PREFIX + self.name


_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_KIB, _MIB = 1024.0, 1024.0 * 1024.0

JOBS_TOTAL = Family(
    "deteval_jobs_total",
    "counter",
    "Job transitions, by the state a job entered (queued, started, succeeded, failed, "
    "retried, requeued, cancelled, deleted).",
    ("state",),
)
ERRORS_TOTAL = Family(
    "deteval_errors_total",
    "counter",
    "Errors by where they were raised (api: problem responses, by problem type; job: "
    "failed jobs, by error code).",
    ("source", "type"),
)
SCORING_SECONDS = Family(
    "deteval_scoring_seconds",
    "histogram",
    "Seconds from a worker taking a job to its report being written, for succeeded jobs.",
    ("iou_type",),
    _SECONDS,
)
QUEUE_WAIT_SECONDS = Family(
    "deteval_queue_wait_seconds",
    "histogram",
    "Seconds from a job's upload to the start of its first attempt.",
    (),
    (0.05, *_SECONDS),
)
UPLOAD_BYTES = Family(
    "deteval_upload_bytes",
    "histogram",
    "Sizes of accepted uploads in bytes, by what they held (dataset, predictions, "
    "ground_truth: an evaluation's inline ground truth).",
    ("kind",),
    (_KIB, 16 * _KIB, 256 * _KIB, _MIB, 4 * _MIB, 16 * _MIB, 64 * _MIB, 256 * _MIB, 1024 * _MIB),
)
#: The families kept in Redis, in the order they are rendered.
STORED = (JOBS_TOTAL, ERRORS_TOTAL, SCORING_SECONDS, QUEUE_WAIT_SECONDS, UPLOAD_BYTES)

QUEUE_DEPTH = Family(
    "deteval_queue_depth",
    "gauge",
    "Task messages waiting in the broker's queue for a worker (absent while the broker "
    "cannot be reached).",
)
JOBS = Family(
    "deteval_jobs",
    "gauge",
    "Unfinished jobs by state (queued: waiting for or between attempts; running).",
    ("state",),
)
WORKERS = Family("deteval_workers", "gauge", "Worker processes heartbeating into the job store.")
DELETIONS_PENDING = Family(
    "deteval_deletions_pending",
    "gauge",
    "Deletions begun and not yet finished (the sweeper finishes those a crash interrupted).",
)


def _labels(family: Family, values: Sequence[str]) -> list[str]:
    if len(values) != len(family.labels):
        raise ValueError(f"{family.name} takes labels {family.labels}, got {tuple(values)}")
    return [str(v) for v in values]


def _field(parts: Sequence[str]) -> str:
    return orjson.dumps(list(parts)).decode()


def _bound(value: float) -> str:
    """A bucket bound as Prometheus writes it (``1``, ``0.25``, ``+Inf``)."""
    if math.isinf(value):
        return _INF
    return repr(int(value)) if value == int(value) else repr(value)


def counter_field(family: Family, *labels: str) -> tuple[str, str]:
    """The Redis hash and field one label set of a counter is counted in."""
    return family.key, _field(_labels(family, labels))


def count(client: redis.Redis | redis.client.Pipeline, family: Family, *labels: str) -> None:
    """Add one to a counter (on ``client``, or queued on a pipeline)."""
    client.hincrby(*counter_field(family, *labels), 1)


def observe(
    client: redis.Redis | redis.client.Pipeline, family: Family, value: float, *labels: str
) -> None:
    """Record one observation of a histogram.

    With a client (not a pipeline) the bucket and the sum move together, in one
    ``MULTI``; on a pipeline, as that pipeline runs.
    """
    parts = _labels(family, labels)
    bound = next((b for b in family.buckets if value <= b), math.inf)
    if isinstance(client, redis.client.Pipeline):
        client.hincrby(family.key, _field([*parts, _bound(bound)]), 1)
        client.hincrbyfloat(family.key, _field([*parts, _SUM]), float(value))
        return
    with client.pipeline(transaction=True) as pipe:
        observe(pipe, family, value, *labels)
        pipe.execute()


def read_stored(client: redis.Redis) -> dict[str, dict[str, str]]:
    """Every stored family's hash (family name -> field -> value), in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for family in STORED:
            pipe.hgetall(family.key)
        replies = pipe.execute()
    return {family.name: reply for family, reply in zip(STORED, replies, strict=True)}


# -- rendering -------------------------------------------------------------------------
def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return _INF if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(int(value)) if value == int(value) and abs(value) < 2**53 else repr(value)


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_number(value)}"
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {_number(value)}"


def _header(family: Family) -> list[str]:
    return [f"# HELP {family.name} {_escape(family.help)}", f"# TYPE {family.name} {family.kind}"]


def _decoded(raw: Mapping[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """Fields as (label values, last part or ''), sorted; unreadable fields are skipped."""
    fields = []
    for field, value in raw.items():
        try:
            parts = orjson.loads(field)
        except orjson.JSONDecodeError:
            continue
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            fields.append((tuple(parts), value))
    return sorted(fields)


def render_counter(family: Family, raw: Mapping[str, str]) -> list[str]:
    """A counter's lines from its hash (label values -> count)."""
    lines = _header(family)
    for values, total in _decoded(raw):
        if len(values) == len(family.labels):
            lines.append(_sample(family.name, dict(zip(family.labels, values)), float(total)))
    return lines


def render_histogram(family: Family, raw: Mapping[str, str]) -> list[str]:
    """A histogram's ``_bucket`` (cumulative), ``_sum`` and ``_count`` lines from its hash.

    An observation counted under a bound the family no longer has (its buckets changed
    since) still counts in ``+Inf`` and ``_count``.
    """
    n = len(family.labels)
    series: dict[tuple[str, ...], dict[str, float]] = {}
    for parts, value in _decoded(raw):
        if len(parts) == n + 1:
            series.setdefault(parts[:n], {})[parts[n]] = float(value)
    lines = _header(family)
    for values, stored in sorted(series.items()):
        labels = dict(zip(family.labels, values))
        total = sum(v for k, v in stored.items() if k != _SUM)
        running = 0.0
        for bound in family.buckets:
            running += stored.get(_bound(bound), 0.0)
            lines.append(_sample(f"{family.name}_bucket", {**labels, "le": _bound(bound)}, running))
        lines.append(_sample(f"{family.name}_bucket", {**labels, "le": _INF}, total))
        lines.append(_sample(f"{family.name}_sum", labels, stored.get(_SUM, 0.0)))
        lines.append(_sample(f"{family.name}_count", labels, total))
    return lines


def render_gauge(family: Family, samples: Iterable[tuple[Sequence[str], float]]) -> list[str]:
    """A gauge's lines from (label values, value) pairs."""
    lines = _header(family)
    for values, value in samples:
        lines.append(_sample(family.name, dict(zip(family.labels, _labels(family, values))), value))
    return lines


def render(
    stored: Mapping[str, Mapping[str, str]],
    gauges: Sequence[tuple[Family, Iterable[tuple[Sequence[str], float]]]],
) -> str:
    """The exposition text: the stored families (from :func:`read_stored`), then the
    gauges read at scrape time."""
    lines: list[str] = []
    for family in STORED:
        raw = stored.get(family.name, {})
        if family.kind == "histogram":
            lines += render_histogram(family, raw)
        else:
            lines += render_counter(family, raw)
    for family, samples in gauges:
        lines += render_gauge(family, samples)
    return "\n".join(lines) + "\n"

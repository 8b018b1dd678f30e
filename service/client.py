"""A small Python client for the detection-eval HTTP API (used by ``deteval submit``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

FINISHED = ("succeeded", "failed")


class ApiError(Exception):
    """An error answer of the service, with its problem-details body.

    Attributes
    ----------
    status : int
        The HTTP status.
    problem : dict
        The RFC 9457 body (``title``, ``detail``, and e.g. ``location``/``problem``).
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or "error"
        super().__init__(f"HTTP {status}: {detail}")


class Client:
    """Talks to one service with one API key.

    Parameters
    ----------
    url : str
        The service's base URL, e.g. ``http://127.0.0.1:8000``.
    key : str
        An API key.
    timeout : float
        Seconds per HTTP request (uploads included).
    """

    def __init__(self, url: str, key: str, timeout: float = 120.0) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.is_error:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            raise ApiError(response.status_code, problem)
        return response.json()

    def health(self) -> dict[str, Any]:
        """The service's health answer."""
        result: dict[str, Any] = self._json(self.http.get("/health"))
        return result

    def create_dataset(
        self, ground_truth: Path, name: str | None = None, description: str | None = None
    ) -> dict[str, Any]:
        """Upload a COCO ground-truth file, optionally named and described; returns the
        dataset summary (with its id)."""
        labels = {k: v for k, v in (("name", name), ("description", description)) if v}
        with ground_truth.open("rb") as f:
            result: dict[str, Any] = self._json(
                self.http.post(
                    "/datasets",
                    files={"file": (ground_truth.name, f, "application/json")},
                    data=labels,
                )
            )
        return result

    def submit(
        self,
        predictions: Path,
        dataset_id: str | None = None,
        ground_truth: Path | None = None,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        iou_type: str = "bbox",
    ) -> dict[str, Any]:
        """Submit predictions against a dataset id or an inline ground-truth file.

        ``name`` (the model), ``tags`` and ``metadata`` (a small JSON object: commit,
        epoch, config) label the run; ``iou_type`` says what it compares (``"bbox"``,
        ``"segm"`` or ``"keypoints"``). Returns the queued job (``id``, ``status``, ...);
        the files are streamed.
        """
        if (dataset_id is None) == (ground_truth is None):
            raise ValueError("give exactly one of dataset_id and ground_truth")
        data: dict[str, str] = {}
        if dataset_id is not None:
            data["dataset_id"] = dataset_id
        if name:
            data["name"] = name
        if tags:
            data["tags"] = ",".join(tags)
        if metadata:
            data["metadata"] = json.dumps(dict(metadata))
        if iou_type != "bbox":
            data["iou_type"] = iou_type
        with ExitStack() as stack:
            files: dict[str, Any] = {
                "predictions": (predictions.name, stack.enter_context(predictions.open("rb")))
            }
            if ground_truth is not None:
                files["ground_truth"] = (
                    ground_truth.name,
                    stack.enter_context(ground_truth.open("rb")),
                )
            result: dict[str, Any] = self._json(
                self.http.post("/evaluations", files=files, data=data or None)
            )
        return result

    def list_evaluations(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Your evaluations, newest first, page after page.

        ``filters`` are the query parameters of GET /v1/evaluations: ``dataset_id``,
        ``status``, ``tag``, ``name_prefix``, ``created_after``, ``created_before``,
        ``limit`` (the page size).
        """
        return self._pages("/evaluations", filters)

    def list_datasets(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Your datasets, newest first (``name_prefix``, ``created_after``, ...)."""
        return self._pages("/datasets", filters)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            page = self._json(self.http.get(path, params=params))
            yield from page["items"]
            if page["next_cursor"] is None:
                return
            params = {**params, "cursor": page["next_cursor"]}

    def delete_evaluation(self, evaluation_id: str) -> None:
        """Delete an evaluation (a running one is cancelled)."""
        self._check(self.http.delete(f"/evaluations/{evaluation_id}"))

    def delete_dataset(self, dataset_id: str, cascade: bool = False) -> None:
        """Delete a dataset; with ``cascade``, its evaluations too (else 409 while used)."""
        params = {"cascade": "true"} if cascade else {}
        self._check(self.http.delete(f"/datasets/{dataset_id}", params=params))

    def _check(self, response: httpx.Response) -> None:
        if response.is_error:
            self._json(response)

    def status(self, evaluation_id: str) -> dict[str, Any]:
        """The job's current status."""
        result: dict[str, Any] = self._json(self.http.get(f"/evaluations/{evaluation_id}"))
        return result

    def report(self, evaluation_id: str) -> dict[str, Any]:
        """The report of a succeeded evaluation."""
        result: dict[str, Any] = self._json(self.http.get(f"/evaluations/{evaluation_id}/report"))
        return result

    def wait(
        self,
        evaluation_id: str,
        timeout: float = 3600.0,
        interval: float = 0.5,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job finishes; returns its final status.

        Raises
        ------
        TimeoutError
            Not finished within ``timeout`` seconds (the message has the last status).
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(evaluation_id)
            if on_status is not None:
                on_status(status)
            if status["status"] in FINISHED:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"evaluation {evaluation_id} not finished after {timeout:g} s; "
                    f"last status: {status}"
                )
            time.sleep(interval)

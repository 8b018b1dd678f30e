"""A table of bad requests against the real stack: each answered with the right status
and a problem-details body that says what and where; the service keeps working after."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hostile_inputs import Hostile, hostile_inputs
from service_stack import KEYS, MAX_UPLOAD_MB, Stack, coco_sets

from evaluator import InputError, load_ground_truth, load_predictions
from evaluator.input.limits import MAX_CATEGORIES, MAX_NAME_CHARS

GT = {
    "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [10, 10, 20, 20],
            "area": 400,
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 2,
            "category_id": 2,
            "bbox": [5, 5, 50, 40],
            "area": 2000,
            "iscrowd": 0,
        },
    ],
}
GOOD_PRED = {"image_id": 1, "category_id": 1, "bbox": [11, 9, 20, 21], "score": 0.9}
TOO_BIG = int(MAX_UPLOAD_MB * 1024 * 1024) + 1000


def gt_with(**annotation: Any) -> bytes:
    return json.dumps({**GT, "annotations": [{**GT["annotations"][0], **annotation}]}).encode()


def preds_with(**fields: Any) -> bytes:
    return json.dumps([{**GOOD_PRED, **fields}]).encode()


def gt_named(name: str) -> bytes:
    """GT with its second category renamed (``json.dumps`` writes a lone surrogate as an
    escape, ``"\\ud800"``, as a hostile client would)."""
    categories = [GT["categories"][0], {**GT["categories"][1], "name": name}]
    return json.dumps({**GT, "categories": categories}).encode()


DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000


@dataclass
class Ctx:
    dataset_id: str
    bob_dataset_id: str
    bob_evaluation_id: str


@pytest.fixture(scope="module")
def ctx(stack: Stack) -> Ctx:
    with stack.http("alice") as alice, stack.http("bob") as bob:
        mine = alice.post("/datasets", json=GT)
        theirs = bob.post("/datasets", json=GT)
        assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
        job = bob.post(
            "/evaluations",
            data={"dataset_id": theirs.json()["id"]},
            files={"predictions": ("p.json", preds_with())},
        )
        assert job.status_code == 202, job.text
        stack.wait_finished(bob, job.json()["id"])  # so no file appears during the table
    return Ctx(mine.json()["id"], theirs.json()["id"], job.json()["id"])


def auth(tenant: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[tenant]}"}


def post_gt(body: bytes, content_type: str = "application/json") -> Callable[[Ctx], dict]:
    return lambda c: {
        "method": "POST",
        "url": "/datasets",
        "content": body,
        "headers": {**auth(), "Content-Type": content_type},
    }


def post_eval(
    predictions: bytes | None = None,
    *,
    dataset: str | None = "mine",
    ground_truth: bytes | None = None,
    extra: dict | None = None,
) -> Callable:
    def build(c: Ctx) -> dict:
        data = {}
        if dataset == "mine":
            data["dataset_id"] = c.dataset_id
        elif dataset == "bob":
            data["dataset_id"] = c.bob_dataset_id
        elif dataset is not None:
            data["dataset_id"] = dataset
        files = {}
        if predictions is not None:
            files["predictions"] = ("p.json", predictions, "application/json")
        if ground_truth is not None:
            files["ground_truth"] = ("g.json", ground_truth, "application/json")
        for name, value in (extra or {}).items():
            files[name] = ("x.json", value, "application/json")
        return {
            "method": "POST",
            "url": "/evaluations",
            "data": data,
            "files": files,
            "headers": auth(),
        }

    return build


def get(
    path: Callable[[Ctx], str], tenant: str | None = "alice", headers: dict | None = None
) -> Callable:
    return lambda c: {
        "method": "GET",
        "url": path(c),
        "headers": headers if headers is not None else (auth(tenant) if tenant else {}),
    }


def chunked(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 65536):
        yield data[i : i + 65536]


# (id, request builder, status, substring of detail, expected "location" or None)
CASES: list[tuple[str, Callable[[Ctx], dict], int, str, str | None]] = [
    (
        "no-key",
        get(lambda c: f"/datasets/{c.dataset_id}", tenant=None),
        401,
        "missing or malformed Authorization",
        None,
    ),
    (
        "wrong-key",
        get(
            lambda c: f"/datasets/{c.dataset_id}",
            headers={"Authorization": "Bearer not-a-key-at-all-000000"},
        ),
        401,
        "unknown API key",
        None,
    ),
    (
        "basic-scheme",
        get(
            lambda c: f"/datasets/{c.dataset_id}",
            headers={"Authorization": f"Basic {KEYS['alice']}"},
        ),
        401,
        "missing or malformed Authorization",
        None,
    ),
    ("gt-malformed-json", post_gt(b'{"images": ['), 422, "malformed JSON", "ground_truth"),
    ("gt-not-an-object", post_gt(b"[]"), 422, "expected an object", "ground_truth"),
    (
        "gt-missing-images",
        post_gt(b'{"categories": [], "annotations": []}'),
        422,
        "missing",
        "ground_truth.images",
    ),
    (
        "gt-wrong-type-id",
        post_gt(b'{"images":[{"id":true}],"categories":[],"annotations":[]}'),
        422,
        "expected an integer",
        "ground_truth.images[0].id",
    ),
    (
        "gt-negative-size",
        post_gt(gt_with(bbox=[0, 0, -5, 5])),
        422,
        "must be >= 0",
        "ground_truth.annotations[0].bbox",
    ),
    (
        "gt-nan-box",
        post_gt(gt_with(bbox=[0, 0, 5, 5]).replace(b"[0, 0, 5, 5]", b"[0, NaN, 5, 5]")),
        422,
        "finite",
        "ground_truth.annotations[0].bbox",
    ),
    ("gt-empty-body", post_gt(b""), 422, "malformed JSON", "ground_truth"),
    ("gt-text-plain", post_gt(b"{}", "text/plain"), 415, "got text/plain", None),
    ("gt-too-big-declared", post_gt(b" " * TOO_BIG), 413, "exceeds the limit", None),
    (
        "gt-too-big-chunked",
        lambda c: {
            "method": "POST",
            "url": "/datasets",
            "content": chunked(b" " * TOO_BIG),
            "headers": {**auth(), "Content-Type": "application/json"},
        },
        413,
        "exceeds the limit",
        None,
    ),
    (
        "gt-multipart-wrong-field",
        lambda c: {
            "method": "POST",
            "url": "/datasets",
            "files": {"other": ("a", b"{}")},
            "headers": auth(),
        },
        422,
        "unexpected form field 'other'",
        None,
    ),
    # issue 10, points 4-6: strings too long to render, strings that cannot be written,
    # nesting no parser's stack holds; each refused at upload, where it is.
    (
        "gt-name-too-long",
        post_gt(gt_named("x" * 500_000)),
        422,
        f"500000 characters, at most {MAX_NAME_CHARS}",
        "ground_truth.categories[1].name",
    ),
    (
        "gt-too-many-categories",
        post_gt(
            json.dumps(
                {**GT, "categories": [{"id": k} for k in range(MAX_CATEGORIES + 1)]}
            ).encode()
        ),
        422,
        f"{MAX_CATEGORIES + 1} categories, at most {MAX_CATEGORIES}",
        "ground_truth.categories",
    ),
    (
        "gt-name-lone-surrogate",
        post_gt(gt_named("a\ud800")),
        422,
        "lone surrogate (\\ud800) at character 1",
        "ground_truth.categories[1].name",
    ),
    ("gt-deep-arrays", post_gt(DEEP_ARRAYS), 422, "nested too deeply", "ground_truth"),
    ("gt-deep-objects", post_gt(DEEP_OBJECTS), 422, "nested too deeply", "ground_truth"),
    (
        "gt-image-id-5000-digits",
        post_gt(b'{"images": [{"id": ' + b"7" * 5000 + b'}], "categories": []}'),
        422,
        "must fit in 64 bits",
        "ground_truth.images[0].id",
    ),
    ("dataset-unknown", get(lambda c: "/datasets/" + "0" * 32), 404, "no dataset", None),
    (
        "dataset-other-tenant",
        get(lambda c: f"/datasets/{c.bob_dataset_id}"),
        404,
        "no dataset",
        None,
    ),
    ("dataset-path-traversal", get(lambda c: "/datasets/..%2F..%2Fapi-key"), 404, "", None),
    ("dataset-dotdot-id", get(lambda c: "/datasets/.."), 404, "", None),
    (
        "eval-missing-predictions",
        post_eval(None, dataset=None, ground_truth=json.dumps(GT).encode()),
        422,
        "missing file field 'predictions'",
        None,
    ),
    (
        "eval-neither-gt-nor-dataset",
        post_eval(preds_with(), dataset=None),
        422,
        "exactly one of",
        None,
    ),
    (
        "eval-both-gt-and-dataset",
        post_eval(preds_with(), ground_truth=json.dumps(GT).encode()),
        422,
        "exactly one of",
        None,
    ),
    ("eval-unknown-dataset", post_eval(preds_with(), dataset="f" * 32), 404, "no dataset", None),
    ("eval-other-tenants-dataset", post_eval(preds_with(), dataset="bob"), 404, "no dataset", None),
    (
        "eval-traversal-dataset-id",
        post_eval(preds_with(), dataset="../../datasets/bob"),
        404,
        "no dataset",
        None,
    ),
    ("eval-malformed-json", post_eval(b"[{"), 422, "malformed JSON", "predictions"),
    ("eval-not-a-list", post_eval(b'{"foo": 1}'), 422, "expected a list", "predictions"),
    (
        "eval-bbox-3-numbers",
        post_eval(preds_with(bbox=[1, 2, 3])),
        422,
        "expected 4 numbers",
        "predictions[0].bbox",
    ),
    (
        "eval-nan-score",
        post_eval(preds_with().replace(b"0.9", b"NaN")),
        422,
        "finite",
        "predictions[0].score",
    ),
    (
        "eval-string-score",
        post_eval(preds_with(score="high")),
        422,
        "expected a number",
        "predictions[0].score",
    ),
    (
        "eval-missing-score",
        post_eval(json.dumps([{k: v for k, v in GOOD_PRED.items() if k != "score"}]).encode()),
        422,
        "missing",
        "predictions[0].score",
    ),
    (
        "eval-negative-width",
        post_eval(preds_with(bbox=[0, 0, -1, 5])),
        422,
        "must be >= 0",
        "predictions[0].bbox",
    ),
    (
        "eval-unknown-image",
        post_eval(preds_with(image_id=99)),
        422,
        "unknown image id 99",
        "predictions[0].image_id",
    ),
    (
        "eval-unknown-category",
        post_eval(preds_with(category_id=7)),
        422,
        "unknown category id 7",
        "predictions[0].category_id",
    ),
    ("eval-deep-arrays", post_eval(DEEP_ARRAYS), 422, "nested too deeply", "predictions"),
    (
        "eval-deep-in-an-unread-field",
        post_eval(preds_with(x=0).replace(b"0}", DEEP_OBJECTS + b"}")),
        422,
        "nested too deeply",
        "predictions",
    ),
    (
        "eval-score-5000-digits",
        post_eval(preds_with(score=0).replace(b"0}", b"9" * 5000 + b"}")),
        422,
        "out of range for a 64-bit float",
        "predictions[0].score",
    ),
    (
        "eval-inline-gt-lone-surrogate",
        post_eval(preds_with(), dataset=None, ground_truth=gt_named("\udfff")),
        422,
        "lone surrogate",
        "ground_truth.categories[1].name",
    ),
    (
        "eval-inline-gt-deep",
        post_eval(preds_with(), dataset=None, ground_truth=DEEP_ARRAYS),
        422,
        "nested too deeply",
        "ground_truth",
    ),
    (
        "eval-bad-inline-gt",
        post_eval(preds_with(), dataset=None, ground_truth=b"{"),
        422,
        "malformed JSON",
        "ground_truth",
    ),
    (
        "eval-extra-field",
        post_eval(preds_with(), extra={"notes": b"hi"}),
        422,
        "unexpected form field 'notes'",
        None,
    ),
    ("eval-too-big", post_eval(b" " * TOO_BIG), 413, "exceeds the limit", None),
    (
        "eval-json-content-type",
        lambda c: {"method": "POST", "url": "/evaluations", "json": [GOOD_PRED], "headers": auth()},
        415,
        "expected multipart/form-data",
        None,
    ),
    (
        "eval-no-boundary",
        lambda c: {
            "method": "POST",
            "url": "/evaluations",
            "content": b"--x--",
            "headers": {**auth(), "Content-Type": "multipart/form-data"},
        },
        400,
        "without a boundary",
        None,
    ),
    (
        "eval-truncated-multipart",
        lambda c: {
            "method": "POST",
            "url": "/evaluations",
            "content": b'--xyz\r\nContent-Disposition: form-data; name="predictions"; '
            b'filename="p"\r\n\r\n[]',
            "headers": {**auth(), "Content-Type": "multipart/form-data; boundary=xyz"},
        },
        400,
        "ended before its closing boundary",
        None,
    ),
    ("evaluation-unknown", get(lambda c: "/evaluations/" + "a" * 32), 404, "no evaluation", None),
    (
        "evaluation-other-tenant",
        get(lambda c: f"/evaluations/{c.bob_evaluation_id}"),
        404,
        "no evaluation",
        None,
    ),
    (
        "report-other-tenant",
        get(lambda c: f"/evaluations/{c.bob_evaluation_id}/report"),
        404,
        "no evaluation",
        None,
    ),
    ("evaluation-bad-id", get(lambda c: "/evaluations/not-an-id"), 404, "no evaluation", None),
    ("unknown-route", get(lambda c: "/nothing-here"), 404, "Not Found", None),
    (
        "method-not-allowed",
        lambda c: {"method": "PUT", "url": f"/datasets/{c.dataset_id}", "headers": auth()},
        405,
        "Method Not Allowed",
        None,
    ),
]


def _files_on_disk(stack: Stack) -> set[str]:
    return {
        str(p.relative_to(stack.data_dir))
        for p in stack.data_dir.rglob("*")
        if "redis" not in p.parts
    }


@pytest.fixture(scope="module")
def baseline(stack: Stack, ctx: Ctx) -> set[str]:
    return _files_on_disk(stack)


@pytest.mark.parametrize(
    ("name", "build", "status", "message", "location"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request(
    stack: Stack,
    ctx: Ctx,
    baseline: set[str],
    name: str,
    build: Callable,
    status: int,
    message: str,
    location: str | None,
) -> None:
    with httpx.Client(base_url=f"{stack.url}/v1", timeout=60) as http:
        response = http.request(**build(ctx))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert message in problem["detail"], problem
    if location is not None:
        assert problem["location"] == location, problem
    # A rejected request leaves nothing behind: no temp file, no evaluation, no dataset.
    assert _files_on_disk(stack) == baseline


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 25


# --- a sweep of hostile files (issue 10): the library refuses each with an InputError or
# accepts it, never anything else; the service answers every refused one 422 with the same
# location, never a 5xx.
HOSTILE = list(hostile_inputs())


def _library_verdict(hostile: Hostile) -> InputError | None:
    """The library's InputError for a hostile file (None if it accepts it); any other
    exception escapes and fails the calling test."""
    try:
        if hostile.target == "gt":
            names = load_ground_truth(hostile.data).category_names
            "".join(names).encode("utf-8")  # what the report will have to write
        else:
            load_predictions(hostile.data, load_ground_truth(GT), unknown_categories="error")
    except InputError as exc:
        return exc
    return None


def test_the_library_refuses_hostile_files_with_located_input_errors() -> None:
    refused = [(h, e) for h in HOSTILE if (e := _library_verdict(h)) is not None]
    assert len(HOSTILE) >= 1500
    assert len(refused) >= 1400, len(refused)
    for hostile, error in refused:
        root = "ground_truth" if hostile.target == "gt" else "predictions"
        assert error.location.startswith(root), (hostile.id, str(error))
        assert len(str(error)) <= 300, (hostile.id, str(error)[:300])


def _upload(http: httpx.Client, hostile: Hostile, dataset_id: str) -> httpx.Response:
    if hostile.target == "gt":
        return http.post(
            "/datasets", content=hostile.data, headers={"Content-Type": "application/json"}
        )
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", hostile.data, "application/json")},
    )


def test_the_service_answers_every_hostile_file_422_where_the_library_does(
    stack: Stack, ctx: Ctx, baseline: set[str]
) -> None:
    refused = [(h, e) for h in HOSTILE if (e := _library_verdict(h)) is not None]
    statuses: Counter[int] = Counter()
    wrong = []
    with stack.http() as http:
        for hostile, error in refused:
            response = _upload(http, hostile, ctx.dataset_id)
            statuses[response.status_code] += 1
            located = response.json().get("location") if response.status_code == 422 else None
            if located != error.location:
                wrong.append((hostile.id, response.status_code, response.text[:200]))
    assert not wrong, (len(wrong), wrong[:5], statuses)
    assert statuses == {422: len(refused)}
    assert _files_on_disk(stack) == baseline


def test_strings_that_are_never_read_are_harmless(stack: Stack) -> None:
    """``file_name`` and ``supercategory`` are skipped unread: however long, and even
    when they are not Unicode text, they reach no report and fail no evaluation."""
    gt = copy.deepcopy(GT)
    gt["images"][0]["file_name"] = "f" * 300_000
    gt["categories"][0]["supercategory"] = "s" * 300_000
    data = json.dumps(gt).encode().replace(b'"sss', b'"\\ud800sss', 1)
    with stack.http() as http:
        created = http.post("/datasets", files={"file": ("gt.json", data)})
        assert created.status_code == 201, created.text
        submitted = http.post(
            "/evaluations",
            data={"dataset_id": created.json()["id"]},
            files={"predictions": ("p.json", preds_with())},
        )
        assert submitted.status_code == 202, submitted.text
        final = stack.wait_finished(http, submitted.json()["id"])
        assert final["status"] == "succeeded", final
        report = http.get(f"/evaluations/{final['id']}/report")
    assert report.status_code == 200
    assert len(report.content) < 100_000


def test_client_file_names_are_ignored(stack: Stack, ctx: Ctx) -> None:
    with stack.http() as http:
        response = http.post(
            "/evaluations",
            data={"dataset_id": ctx.dataset_id},
            files={"predictions": ("../../../../escaped.json", preds_with(), "application/json")},
        )
        assert response.status_code == 202, response.text
        stack.wait_finished(http, response.json()["id"])
    assert not list(stack.root.rglob("escaped.json"))
    assert not list(stack.root.parent.glob("escaped.json"))


def test_service_still_works_after_the_table(stack: Stack, ctx: Ctx) -> None:
    # Runs last in this module (pytest keeps file order).
    name, gt, dt, expected = coco_sets()[0]
    with stack.http() as http:
        created = http.post("/datasets", files={"file": ("gt.json", gt.read_bytes())})
        assert created.status_code == 201, created.text
        submitted = http.post(
            "/evaluations",
            data={"dataset_id": created.json()["id"]},
            files={"predictions": ("p.json", dt.read_bytes())},
        )
        assert submitted.status_code == 202, submitted.text
        final = stack.wait_finished(http, submitted.json()["id"])
        assert final["status"] == "succeeded", final
        report = http.get(f"/evaluations/{final['id']}/report").json()
    assert report["stats"] == pytest.approx(expected, abs=1e-12)
    assert http is not None
    assert stack.api is not None and stack.api.poll() is None
    assert not list((stack.data_dir / "tmp").iterdir())

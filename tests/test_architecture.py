"""The architecture's arrows, read statically from every module's source.

Each module's imports are read from its syntax tree: imports inside functions, under
``if TYPE_CHECKING`` and ``importlib.import_module("...")`` with a literal name count the
same as top-level ones, so a lazy import cannot slip past. The rules:

* ``evaluator`` (the library) imports nothing of ours outside itself, nothing outside
  the standard library, numpy and msgspec (a plain install), and inside it
  every arrow points down the layers ``errors < geometry < input < metrics < analyses
  < report < coco < cli < the evaluator package itself``; ``masks`` is at geometry's
  level (it may use ``errors`` and ``geometry``; geometry does not use it); ``evaluator.nn``
  stands beside them: it may use ``errors`` and ``geometry``, and nothing else of ours
  imports it.
* An import by a name that is not a literal cannot be checked, so it is refused (but in
  the ``deteval`` root).
* ``service`` may import the library, never the workers or the ``deteval`` root. Inside
  it, the job backend (``service.backend``), which the workers share, imports only itself
  and the library, and no web framework; operations (``service.ops``) use the backend;
  the API (``service.api``) uses the backend and runs the sweeper of operations; the
  command line and the client at the top may use any of them.
* ``workers`` may import the library and the job backend, nothing else of the service.
* ``deteval``, the composition root of the command line, may import anything.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evaluator", "service", "workers", "deteval")

EVALUATOR_LAYERS = (
    "evaluator.errors",
    "evaluator.threads",
    "evaluator.memory",
    "evaluator.geometry",
    "evaluator.input",
    "evaluator.metrics",
    "evaluator.analyses",
    "evaluator.report",
    "evaluator.coco",
    "evaluator.cli",
    "evaluator",
)
# A package at the level of a layer: it may import what that layer may, and the layer
# itself; the layer does not import it; the layers above may import both.
BESIDE = {"evaluator.masks": "evaluator.geometry"}
NN_MAY_IMPORT = ("evaluator.nn", "evaluator.errors", "evaluator.geometry")
JOB_BACKEND = ("service.backend",)
# Inside the service: what each part may import of the service besides the backend.
SERVICE_PARTS = {
    "service.ops": ("service.ops",),
    "service.api": ("service.api", "service.ops.sweeper"),
}
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "jinja2")
# What a plain `pip install detection-eval` brings: the library may use only these.
LIBRARY_MAY_USE = {"numpy", "msgspec", *sys.stdlib_module_names}
#: An import by a name the checker cannot read (not a literal).
DYNAMIC = "<dynamic>"


def module_name(path: Path) -> str:
    """``evaluator/metrics/voc.py`` -> ``evaluator.metrics.voc`` (relative to ROOT)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_sources() -> dict[str, tuple[str, bool]]:
    """Every module of ours: name -> (source text, is a package ``__init__``)."""
    sources = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            sources[module_name(path)] = (path.read_text(), path.name == "__init__.py")
    return sources


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _import_functions(tree: ast.AST) -> set[str]:
    """The names a module calls to import by name: ``__import__``, and
    ``importlib.import_module`` under whatever name the module gave it."""
    functions = {"__import__", "importlib.import_module"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "importlib":
            functions |= {a.asname or a.name for a in node.names if a.name == "import_module"}
        elif isinstance(node, ast.Import):
            functions |= {
                f"{a.asname}.import_module"
                for a in node.names
                if a.name == "importlib" and a.asname
            }
    return functions


def _callee(call: ast.Call) -> str:
    """``f`` or ``m.f`` for a call of a name or of a module's attribute, else ``""``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        return f"{call.func.value.id}.{call.func.attr}"
    return ""


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _dynamic_target(call: ast.Call) -> str:
    """The module an import-by-name call loads, or DYNAMIC when it cannot be read."""
    name, package = _argument(call, 0, "name"), _argument(call, 1, "package")
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return DYNAMIC
    if _callee(call) == "__import__":
        level = _argument(call, 4, "level")
        return name.value if level is None or getattr(level, "value", None) == 0 else DYNAMIC
    if not name.value.startswith("."):
        return name.value
    if not (isinstance(package, ast.Constant) and isinstance(package.value, str)):
        return DYNAMIC
    try:
        return importlib.util.resolve_name(name.value, package.value)
    except ImportError:
        return DYNAMIC


def imports_of(
    module: str, source: str, is_package: bool, known: set[str]
) -> Iterator[tuple[str, int]]:
    """Every module ``module`` imports, with its line, wherever the import statement is.

    ``from a.b import c`` yields ``a.b.c`` when that is a module of ours, else ``a.b``.
    A call of ``__import__`` or ``importlib.import_module`` (under any name) yields the
    module it names, resolved when relative, or :data:`DYNAMIC` when it is not a literal.
    """
    tree = ast.parse(source)
    functions = _import_functions(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in known else base), node.lineno
        elif isinstance(node, ast.Call) and _callee(node) in functions:
            yield _dynamic_target(node), node.lineno


def _layer(module: str) -> int:
    """Index in EVALUATOR_LAYERS of the deepest layer containing ``module``."""
    if module in ("evaluator", "evaluator.__main__"):
        return len(EVALUATOR_LAYERS) - 1
    for package, layer in BESIDE.items():
        if _within(module, package):
            return EVALUATOR_LAYERS.index(layer)
    for index, layer in enumerate(EVALUATOR_LAYERS[:-1]):
        if _within(module, layer):
            return index
    raise AssertionError(f"{module} is in no layer of EVALUATOR_LAYERS: add it there")


def _evaluator_rule(module: str, target: str) -> str | None:
    if not _within(target, "evaluator"):
        return "the library imports nothing of ours outside evaluator"
    if _within(module, "evaluator.nn"):
        if not any(_within(target, allowed) for allowed in NN_MAY_IMPORT):
            return "evaluator.nn may import only " + ", ".join(NN_MAY_IMPORT)
        return None
    if _within(target, "evaluator.nn"):
        return "only evaluator.nn imports evaluator.nn (the metrics never do)"
    for package, layer in BESIDE.items():
        if _within(module, layer) and _within(target, package):
            return f"{layer} does not import {package}, which stands beside it"
    if _layer(target) > _layer(module):
        return (
            f"an upward arrow: layer {EVALUATOR_LAYERS[_layer(module)]} "
            f"may not import layer {EVALUATOR_LAYERS[_layer(target)]}"
        )
    return None


def _is_backend(name: str) -> bool:
    return any(_within(name, part) for part in JOB_BACKEND)


def broken_rule(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target``, or None when the arrow is allowed."""
    if target == DYNAMIC:
        if _within(module, "deteval"):
            return None
        return "an import by a name that is not a literal, which no one can check"
    top = target.split(".")[0]
    if _within(target, "evaluator.nn") and not _within(module, "evaluator"):
        return "only evaluator.nn imports evaluator.nn (nothing of ours uses it)"
    if top not in PACKAGES:
        if _within(module, "evaluator") and top not in LIBRARY_MAY_USE:
            return "the library uses only the standard library, numpy and msgspec"
        if _is_backend(module) and top in WEB_FRAMEWORKS:
            return "the job backend is framework-free (the workers load it)"
        return None
    if _within(module, "evaluator"):
        return _evaluator_rule(module, target)
    if _is_backend(module):
        if not (_is_backend(target) or top == "evaluator"):
            return "the job backend imports only itself and the library"
        return None
    if _within(module, "service"):
        if top in ("workers", "deteval"):
            return "the service never imports the workers or the deteval root"
        for part, allowed in SERVICE_PARTS.items():
            inside = _within(module, part) and top == "service" and not _is_backend(target)
            if inside and not any(_within(target, name) for name in allowed):
                return f"{part} may import only the backend and " + ", ".join(allowed)
        return None
    if _within(module, "workers"):
        if top == "service" and not _is_backend(target):
            return "the workers may use only the job backend of the service"
        if top == "deteval":
            return "the workers never import the deteval root"
        return None
    return None  # deteval: the composition root wires everything


def violations(sources: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Every forbidden import in ``sources`` as ``module:line imports target: why``."""
    known = set(sources)
    found = []
    for module, (source, is_package) in sources.items():
        for target, line in imports_of(module, source, is_package, known):
            why = broken_rule(module, target)
            if why is not None:
                found.append(f"{module}:{line} imports {target}: {why}")
    return found


def test_every_import_follows_the_arrows() -> None:
    assert violations(read_sources()) == []


def test_every_evaluator_module_is_in_a_layer() -> None:
    for module in read_sources():
        if _within(module, "evaluator") and not _within(module, "evaluator.nn"):
            _layer(module)


PLANTED = [
    # (module, the line planted at the end of a function body, the rule it must break)
    ("evaluator.metrics.matching", "import service.api.state", "outside evaluator"),
    ("evaluator.metrics.pairs", "from evaluator.report import html", "upward arrow"),
    ("evaluator.input.coco_json", "from ..metrics import summary", "upward arrow"),
    ("evaluator.metrics.accumulation", "import evaluator.nn", "only evaluator.nn"),
    ("evaluator.nn.losses", "from evaluator.metrics import voc", "evaluator.nn may import"),
    ("service.api.pages", "from workers import tasks", "never imports the workers"),
    ("service.backend.jobs", "from service.api import state", "imports only itself"),
    ("service.ops.supervisor", "from service.api import app", "service.ops may import only"),
    ("service.api.intake", "from service import cli", "service.api may import only"),
    ("service.backend.storage", "import fastapi", "framework-free"),
    ("workers.pipeline", "from service.api import deps", "only the job backend"),
    ("evaluator.coco", "importlib.import_module('celery')", "only the standard library"),
    ("evaluator.coco", "import httpx", "only the standard library"),
    ("evaluator.metrics.matching", "__import__('service.api.state')", "outside evaluator"),
    (
        "evaluator.metrics.matching",
        "from importlib import import_module as load; load('service.api.state')",
        "outside evaluator",
    ),
    (
        "evaluator.metrics.matching",
        "importlib.import_module(name='service.api.state')",
        "outside evaluator",
    ),
    (
        "evaluator.metrics.pairs",
        "importlib.import_module('..report.html', 'evaluator.metrics')",
        "upward arrow",
    ),
    ("evaluator.metrics.pairs", "importlib.import_module(NAME)", "not a literal"),
    ("evaluator.masks.api", "from evaluator.input import coco_json", "upward arrow"),
    ("evaluator.masks.runs", "import evaluator.metrics.parallel", "upward arrow"),
    ("evaluator.geometry.boxes", "from evaluator.masks import api", "stands beside it"),
    ("service.api.pages", "from evaluator import nn", "only evaluator.nn"),
    ("workers.pipeline", "import evaluator.nn.losses", "only evaluator.nn"),
]


@pytest.mark.parametrize(("module", "planted", "rule"), PLANTED)
def test_a_planted_import_inside_a_function_is_caught(module: str, planted: str, rule: str) -> None:
    sources = read_sources()
    source, is_package = sources[module]
    sources[module] = (source + f"\n\ndef _planted():\n    {planted}\n", is_package)
    found = violations(sources)
    assert len(found) == 1, found
    assert found[0].startswith(f"{module}:") and rule in found[0], found[0]

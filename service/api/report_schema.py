"""The report JSON's schema in the OpenAPI document: the library's own, not a copy.

The report is produced and typed by :class:`evaluator.ReportJSON` (msgspec); its JSON
Schema goes into the document's components under ``report.<Name>``, and ``GET
.../report`` answers with a reference to it. The service serves the stored report
bytes as they are: the workers check every report against this schema before storing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import FastAPI

from evaluator import ReportJSON

REF_TEMPLATE = "#/components/schemas/report.{name}"
REPORT_REF = {"$ref": REF_TEMPLATE.format(name=ReportJSON.__name__)}


def install_report_schema(app: FastAPI) -> None:
    """Add the report JSON's schema, ``report.ReportJSON`` and what it uses, to the
    components of ``app``'s OpenAPI document."""
    derive: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = derive()
        if first:
            _, components = msgspec.json.schema_components([ReportJSON], ref_template=REF_TEMPLATE)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update({f"report.{name}": schema for name, schema in components.items()})
        return document

    app.openapi = openapi  # type: ignore[method-assign]

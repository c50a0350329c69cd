"""The API's OpenAPI 3 document, generated from each function's own Powertools resolver
(its route, parameters, request model and documented answers) for the routes the template
deploys. `python -m local.openapi` writes it to web/openapi.json, which the local gateway
serves at /openapi.json and the page's bucket publishes behind CloudFront in AWS."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from local import template

TITLE = "Boxoffice API"
VERSION = "1.0.0"
OUTPUT = template.ROOT / "web" / "openapi.json"
# Powertools documents its own 422 for validation failures; this API answers those 400.
_POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def document(parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One document for every route deployed with `parameters` (the template's defaults)."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in template.api_routes(parameters=dict(parameters or {})):
        resolver = import_module(route.function.module).app
        part = json.loads(resolver.get_openapi_json_schema(title=TITLE, version=VERSION))
        for path, operations in part["paths"].items():
            for method, operation in operations.items():
                operation["responses"].pop("422", None)
                operation["operationId"] = route.function.folder
                operation["summary"] = f"{route.method} {route.path}"
                paths.setdefault(path, {})[method] = operation
        schemas.update(part.get("components", {}).get("schemas", {}))
    for name in _POWERTOOLS_ONLY:
        schemas.pop(name, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Seat reservation with metered checkout. Errors are"
            " {error, message, ...}; checkout routes other than creation take"
            " `Authorization: Bearer <token>`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def rendered(parameters: Mapping[str, str] | None = None) -> str:
    return json.dumps(document(parameters), indent=2, sort_keys=False) + "\n"


def main() -> int:
    OUTPUT.write_text(rendered(), encoding="utf-8")
    sys.stderr.write(f"wrote {OUTPUT.relative_to(template.ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

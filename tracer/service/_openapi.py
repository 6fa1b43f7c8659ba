"""The service's OpenAPI 3.1 document; the report is the shipped JSON Schema, referenced as it is."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def report_schema() -> dict[str, Any]:
    return json.loads(resources.files("tracer").joinpath("report.schema.json").read_text("utf-8"))


def _rebased(node: Any) -> Any:
    """The schema's own ``#/$defs/x`` references, pointing where its definitions now sit."""
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _rebased(v)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebased(v) for v in node]
    return node


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


def document() -> dict[str, Any]:
    from tracer import __version__

    rebased = _rebased(report_schema())
    schema = {k: v for k, v in rebased.items() if k not in ("$schema", "$id", "$defs")}
    trace_request = {
        "type": "object",
        "additionalProperties": False,
        "description": "Either text or url.",
        "properties": {
            "text": {"type": "string", "description": "The Indonesian article, plain text."},
            "url": {"type": "string", "format": "uri", "description": "An article page to fetch and extract."},
            "name": {"type": "string", "description": "The article's name in the report."},
            "before": {
                "type": "string",
                "description": "The article's date (YYYY-MM-DD or ISO date-time): sources published later are ignored.",
            },
            "top_k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3},
            "threshold": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Confidence needed for 'traced' (default: the calibrated one).",
            },
            "format": {"enum": ["json", "html", "markdown", "text"], "default": "json"},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracer",
            "version": __version__,
            "description": "Where each sentence of an Indonesian news article came from.",
        },
        "paths": {
            "/v1/trace": {
                "post": {
                    "summary": "Trace an article",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TraceRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "The report (schema_version 1), or its HTML, Markdown or text view.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                                "text/html": {},
                                "text/markdown": {},
                                "text/plain": {},
                            },
                        },
                        **_errors(400, 401, 413, 415, 503),
                    },
                }
            },
            "/v1/index": {
                "get": {
                    "summary": "Index statistics",
                    "security": [{"bearer": []}],
                    "responses": {"200": {"description": "As `trace index stats --format json`."}, **_errors(401, 503)},
                }
            },
            "/healthz": {"get": {"summary": "The process answers", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {
                "get": {
                    "summary": "Model and index loaded",
                    "responses": {"200": {"description": "ready"}, **_errors(503)},
                }
            },
        },
        "components": {
            "schemas": {"Report": schema, **rebased.get("$defs", {}), "TraceRequest": trace_request, "Error": error},
            "responses": {
                "Error": {
                    "description": "An error: a stable code and a message.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required when the service was started with a token.",
                }
            },
        },
    }

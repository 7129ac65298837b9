"""JSON Schemas of what gpubal writes for programs (the snapshot of `gpubal collect`, the report of
`gpubal doctor --format json`), generated from the model's dataclasses and their type hints so that
the schema cannot drift from the code: docs/schema/*.json are this module's output, and a test
regenerates them, compares, and validates every golden file against them.

    python -m gpubal.reports.json_schema docs/schema
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import sys
import typing
from pathlib import Path
from typing import Any, Dict

from .. import model
from ..model import SCHEMA_VERSION, Known, Reason, Unavailable
from . import summary
from .json_report import REPORT_SCHEMA_VERSION

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS = {str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"},
            float: {"type": "number"}}


class _Builder:
    def __init__(self) -> None:
        self.definitions: Dict[str, Any] = {}

    def of(self, hint: Any) -> Dict[str, Any]:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is Any:
            return {}
        if hint is type(None):
            return {"type": "null"}
        if hint in _SCALARS:
            return dict(_SCALARS[hint])
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if origin is typing.Union:
            return {"oneOf": [self.of(arg) for arg in args]}
        if origin is Known:  # Known[T]: the value and where it came from
            return {"type": "object", "properties": {"value": self.of(args[0]), "source": {"type": "string"}},
                    "required": ["value", "source"], "additionalProperties": False}
        if hint is Unavailable:
            return self._definition(Unavailable, lambda: {
                "type": "object", "description": "A fact that could not be read, and why.",
                "properties": {"unavailable": {"enum": [reason.value for reason in Reason]},
                               "source": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["unavailable", "source", "detail"], "additionalProperties": False})
        if origin in (list, tuple):
            return {"type": "array", "items": self.of(args[0])}
        if origin in (dict, collections.abc.Mapping):
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if dataclasses.is_dataclass(hint):
            return self._definition(hint, lambda: self._object(hint))
        raise TypeError(f"no JSON Schema for {hint!r}")

    def _object(self, cls: Any) -> Dict[str, Any]:
        hints = typing.get_type_hints(cls, vars(model))
        fields = [field for field in dataclasses.fields(cls) if not field.metadata.get(model.NOT_IN_JSON)]
        described = {"description": cls.__doc__.strip().splitlines()[0]} if cls.__doc__ and not cls.__doc__.startswith(
            f"{cls.__name__}(") else {}
        return {"type": "object", **described, "properties": {field.name: self.of(hints[field.name]) for field in fields},
                # a field with a default may be absent: snapshots written before it existed still load
                "required": [field.name for field in fields if field.default is dataclasses.MISSING
                             and field.default_factory is dataclasses.MISSING], "additionalProperties": False}

    def _definition(self, cls: Any, build: Any) -> Dict[str, Any]:
        name = cls.__name__
        if name not in self.definitions:
            self.definitions[name] = {}  # a placeholder: a recursive type refers to itself
            self.definitions[name] = build()
        return {"$ref": f"#/$defs/{name}"}


def snapshot_schema() -> Dict[str, Any]:
    builder = _Builder()
    root = builder.of(model.Snapshot)
    snapshot = builder.definitions.pop("Snapshot")
    snapshot["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    assert root == {"$ref": "#/$defs/Snapshot"}
    return {"$schema": DIALECT, "$id": "https://gpubal.invalid/schema/snapshot.schema.json",
            "title": f"gpubal snapshot, schema_version {SCHEMA_VERSION}",
            **snapshot, "$defs": dict(sorted(builder.definitions.items()))}


def report_schema() -> Dict[str, Any]:
    """The document `render_json` writes: the verdict, every finding and result, and the snapshot."""
    builder = _Builder()
    verdict = builder.of(summary.Verdict)
    builder.definitions["Verdict"]["properties"]["headline"] = {"type": "string"}
    builder.definitions["Verdict"]["required"].insert(0, "headline")
    properties = {
        "schema_version": {"const": REPORT_SCHEMA_VERSION},
        "gpubal_version": {"type": "string"},
        "matrix_version": {"type": "string"},
        "policy": {"type": "string", "description": "the site policy applied; absent without --policy"},
        "verdict": verdict,
        "topology_class": builder.of(typing.get_type_hints(model.Report, vars(model))["topology_class"]),
        "findings": {"type": "array", "items": builder.of(model.Finding)},
        "results": {"type": "array", "items": builder.of(model.RuleResult)},
        "snapshot": builder.of(model.Snapshot),
    }
    builder.definitions["Snapshot"]["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    return {"$schema": DIALECT, "$id": "https://gpubal.invalid/schema/report.schema.json",
            "title": f"gpubal doctor --format json, schema_version {REPORT_SCHEMA_VERSION}",
            "type": "object", "properties": properties,
            "required": [name for name in properties if name != "policy"], "additionalProperties": False,
            "$defs": dict(sorted(builder.definitions.items()))}


SCHEMAS = {"snapshot.schema.json": snapshot_schema, "report.schema.json": report_schema}


def render(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=1) + "\n"


def main(argv: Any = None) -> None:
    folder = Path((argv or sys.argv[1:] or ["docs/schema"])[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        (folder / name).write_text(render(name), encoding="utf-8")
        print(folder / name)


if __name__ == "__main__":
    main()

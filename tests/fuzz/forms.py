"""The portal's forms, described for the generator: its pages read their fields by hand.

The portal's POST routes parse their forms themselves, so its OpenAPI document names no
fields. The fields are those the services' request bodies take (the portal passes them on)
and those its templates name; the steps are the services' own verbs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common.settings import ROOT

TEMPLATES = ROOT / "services" / "portal" / "templates"
FIELD = re.compile(r'name="([a-z_]+)"')
FORM = "application/x-www-form-urlencoded"
LONGEST = 300  # characters in a generated form field


def _body_schemas(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    schemas = document.get("components", {}).get("schemas", {})
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                yield schemas[ref.rsplit("/", 1)[-1]]


def form_fields(documents: Iterable[dict[str, Any]], templates: Path = TEMPLATES) -> list[str]:
    """The names a portal form may carry: the services' body fields and the templates' inputs."""
    names = {name for d in documents for s in _body_schemas(d) for name in s.get("properties", {})}
    for page in templates.glob("*.html"):
        names.update(FIELD.findall(page.read_text(encoding="utf-8")))
    return sorted(names)


def verbs(documents: Iterable[dict[str, Any]]) -> list[str]:
    """The steps the services take on a case: the last part of POST /<kind>/{case_id}/<step>."""
    found = set()
    for document in documents:
        for path, methods in document.get("paths", {}).items():
            parts = path.strip("/").split("/")
            named = len(parts) == 3 and parts[1] == "{case_id}" and "{" not in parts[2]
            if "post" in methods and named:
                found.add(parts[2])
    return sorted(found)


def with_forms(document: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """A copy of the document in which every POST that names no body takes a form of `fields`."""
    described = copy.deepcopy(document)
    form = {
        "type": "object",
        "properties": {name: {"type": "string", "maxLength": LONGEST} for name in fields},
    }
    for methods in described.get("paths", {}).values():
        post = methods.get("post")
        if post is not None and "requestBody" not in post:
            post["requestBody"] = {"content": {FORM: {"schema": form}}}
    return described

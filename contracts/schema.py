"""JSON Schema per event type and an AsyncAPI description of the topics, from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.catalog import PRIVACY_STREAM, PRIVACY_TOPIC, STREAMS
from contracts.commands import CommandEnvelope, Reply
from contracts.envelope import Envelope
from contracts.privacy import PersonErased
from contracts.registry import REGISTRY


def event_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every event type's envelope with its typed payload."""
    envelope = Envelope.model_json_schema()
    out: dict[str, dict[str, Any]] = {}
    for event_type, model in sorted(REGISTRY.types().items()):
        payload = model.model_json_schema()
        schema = json.loads(json.dumps(envelope))
        schema["title"] = event_type
        schema["description"] = (model.__doc__ or "").strip()
        schema["properties"]["event_type"] = {"const": event_type}
        schema["properties"]["schema_version"] = {"const": model.schema_version}
        defs = {**schema.get("$defs", {}), **payload.pop("$defs", {})}
        schema["properties"]["payload"] = payload
        if defs:
            schema["$defs"] = defs
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[event_type] = schema
    return out


def privacy_schema() -> dict[str, Any]:
    """Return the JSON Schema of an erasure as it is written to the privacy topic."""
    schema = PersonErased.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def asyncapi() -> dict[str, Any]:
    """Return an AsyncAPI 3 document describing the topics and their messages."""
    channels: dict[str, Any] = {}
    for stream, title in ((s.name, s.title) for s in STREAMS.values()):
        events = [t for t in REGISTRY.types() if t.startswith(f"{stream}.")]
        channels[f"{stream}.events"] = {
            "address": f"{stream}.events",
            "description": f"{title}: every event of every case, kept forever, keyed by case id.",
            "messages": {
                t.replace(".", "_"): {"$ref": f"#/components/messages/{t.replace('.', '_')}"}
                for t in events
            },
        }
        channels[f"{stream}.commands"] = {
            "address": f"{stream}.commands",
            "description": f"{title}: commands to the case deciders, keyed by case id.",
            "messages": {"command": {"payload": CommandEnvelope.model_json_schema()}},
        }
        channels[f"{stream}.replies"] = {
            "address": f"{stream}.replies",
            "description": f"{title}: the deciders' answers, keyed by command id.",
            "messages": {"reply": {"payload": Reply.model_json_schema()}},
        }
    channels[PRIVACY_TOPIC] = {
        "address": PRIVACY_TOPIC,
        "description": f"{PRIVACY_STREAM.title}: every erasure, kept forever, keyed by key id.",
        "messages": {"person_erased": {"$ref": "#/components/messages/person_erased"}},
    }
    messages = {
        t.replace(".", "_"): {"name": t, "payload": {"$ref": f"schemas/{t}.json"}}
        for t in [*REGISTRY.types(), "person.erased"]
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Taizhang case ledger", "version": "1"},
        "channels": channels,
        "components": {"messages": messages},
    }


def write_schemas(dest: Path) -> list[Path]:
    """Write one schema file per event type and the AsyncAPI document."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in event_schemas().items():
        path = dest / f"{event_type}.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    path = dest / "person.erased.json"
    path.write_text(
        json.dumps(privacy_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    written.append(path)
    doc = dest.parent / "asyncapi.json"
    doc.write_text(json.dumps(asyncapi(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written.append(doc)
    return written

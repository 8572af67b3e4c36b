"""layouts/layout.schema.json is kept in step with the model and the loader."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from player import layouts as loader
from player.model import ITEM_TYPES, TextStyle
from screens import DEMO_DIR, ROOT, one_zone

SCHEMA = json.loads((ROOT / "layouts" / "layout.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_item_kind_of_the_model_has_a_schema_with_exactly_the_loaders_keys() -> None:
    assert {f"item_{k}" for k in ITEM_TYPES} <= set(DEFS)
    for kind in ITEM_TYPES:
        props = set(DEFS[f"item_{kind}"]["properties"])
        assert props == loader._COMMON_KEYS | loader._ITEM_KEYS[kind], kind


def test_text_style_fields_match_the_schema() -> None:
    style_fields = {f.name for f in dataclasses.fields(TextStyle)}
    assert style_fields == loader._STYLE_KEYS
    assert style_fields <= set(DEFS["item_text"]["properties"])


def test_zone_layout_entry_keys_match_the_loader() -> None:
    assert set(DEFS["zone"]["properties"]) == loader._ZONE_KEYS
    assert set(DEFS["layout"]["properties"]) == loader._LAYOUT_KEYS
    assert set(DEFS["entry"]["properties"]) == loader._ENTRY_KEYS
    assert set(SCHEMA["properties"]) - {"$comment"} == loader._SCREEN_KEYS
    assert set(DEFS["item_widget"]["properties"]["widget"]["enum"]) == loader.WIDGET_KINDS


@pytest.mark.parametrize("path", [*sorted((ROOT / "layouts").glob("*-*.json")), DEMO_DIR / "screen.json"])
def test_bundled_documents_follow_the_schema(path) -> None:  # noqa: ANN001
    errors = [e.message for e in VALIDATOR.iter_errors(json.loads(path.read_text(encoding="utf-8")))]
    assert errors == []


@pytest.mark.parametrize("item", [{"type": "hologram"}, {"type": "image"}, {"type": "text", "color": "red"},
                                  {"type": "text", "colour": "#fff"}, {"type": "web", "url": "file:///x"}])
def test_schema_and_loader_agree_on_bad_items(item: dict) -> None:
    doc = one_zone([item])
    assert list(VALIDATOR.iter_errors(doc)), "the schema accepts what the loader rejects"
    with pytest.raises(loader.DocumentError):
        loader.load_screen_dict(doc, "s.json", strict=True)

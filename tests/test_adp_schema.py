"""Schema: wire compatibility with the official JSON, both versions, clear errors."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from experio.adp import (
    SchemaVersionError,
    Trajectory,
    normalize_language,
    parse_trajectory,
    to_wire,
)
from test_adp_support import ALL_DATASETS, load


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_every_official_sample_std_round_trips(dataset):
    for t in load(dataset, "sample_std.json"):
        model = Trajectory.model_validate(t)
        assert to_wire(model) == t
        # key order too: the release files list fields in class order
        assert json.dumps(to_wire(model)) == json.dumps(t)
        assert parse_trajectory(json.dumps(t)) == model


def _traj(**item_extra) -> dict:
    item = {"class_": "message_action", "content": "hi", "description": None, **item_extra}
    return {"id": "x", "content": [item], "details": {}}


def test_v12_fields_are_read_and_written_on_request():
    t = Trajectory.model_validate(
        {
            "schema_version": "1.2.0",
            "id": "x",
            "available_apis": ["go"],
            "details": {"score": 0.5, "tags": ["a"]},
            "content": [
                {"class_": "text_observation", "content": "q", "name": None, "source": "user", "reward": 0.0},
                {"class_": "api_action", "function": "go", "kwargs": {"to": '"a"'}, "description": "t",
                 "reasoning_content": "because", "reward": 1.0},
            ],
        }
    )
    wire = to_wire(t, version="1.2.0")
    assert wire["schema_version"] == "1.2.0"
    assert wire["available_apis"] == ["go"]
    assert wire["content"][1]["reasoning_content"] == "because"
    assert wire["content"][1]["reward"] == 1.0
    assert wire["content"][0]["reward"] == 0.0
    assert Trajectory.model_validate(wire) == t.model_copy(update={"schema_version": "1.2.0"})
    with pytest.raises(SchemaVersionError, match=r"content\[0\] sets .reward."):
        to_wire(t)  # the release form cannot carry it


def test_release_form_has_no_v12_keys_and_v12_nulls_are_present():
    t = Trajectory.model_validate(_traj())
    assert to_wire(t) == {"id": "x", "content": [{"class_": "message_action", "content": "hi", "description": None}], "details": {}}
    item = to_wire(t, "1.2.0")["content"][0]
    assert item["reasoning_content"] is None and item["reward"] is None


def test_release_rejects_non_string_details():
    t = Trajectory.model_validate({"id": "x", "content": [], "details": {"n": 3}})
    with pytest.raises(SchemaVersionError, match="non-string details"):
        to_wire(t)
    assert to_wire(t, "1.2.0")["details"] == {"n": 3}


def test_errors_name_the_field():
    with pytest.raises(ValidationError) as e:
        Trajectory.model_validate({"id": "x", "details": {}, "content": [{"class_": "text_observation", "content": "a", "source": "os"}]})
    assert "content.0.text_observation.source" in str(e.value)
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Trajectory.model_validate({"id": "x", "details": {}, "content": [{"class_": "video", "content": "a"}]})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Trajectory.model_validate(_traj(thought="typo"))
    with pytest.raises(ValidationError, match="unsupported schema_version"):
        Trajectory.model_validate({"schema_version": "9.0.0", "id": "x", "content": [], "details": {}})


def test_any_language_is_accepted_and_aliases_normalise():
    t = Trajectory.model_validate(
        {"id": "x", "details": {}, "content": [{"class_": "code_action", "language": "Brainfuck", "content": "+", "description": None}]}
    )
    assert t.content[0].language == "Brainfuck"  # kept as given: round trips stay exact
    assert normalize_language("Python3") == "python"
    assert normalize_language("sh") == "bash"
    assert normalize_language("c++") == "cpp"


def test_web_and_image_observations_round_trip():
    t = {
        "id": "w", "details": {},
        "content": [
            {"class_": "web_observation", "html": None, "axtree": "[1] button 'Go'", "url": "http://x",
             "image_observation": {"class_": "image_observation", "content": "shot.png",
                                   "annotations": [{"text": "Go", "element_type": "button",
                                                    "bounding_box": {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0}}],
                                   "source": "environment"},
             "viewport_size": [1280, 720]},
        ],
    }
    assert to_wire(Trajectory.model_validate(t)) == t

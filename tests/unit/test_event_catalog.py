"""Rules every event of the catalog keeps, and a JSON-schema snapshot per event.

A schema change within a major version must be additive: this test fails on any change, and
`UPDATE_SNAPSHOTS=1` rewrites the snapshots after the change has been reviewed as additive.
"""

import json
import os
from pathlib import Path

import pytest

from modelops_contracts.events import ALL_EVENTS, CATALOG, SUBJECT_PATTERN, CloudEvent, Event
from modelops_contracts.events.examples import EXAMPLES

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_subjects_are_unique_and_well_formed() -> None:
    subjects = [cls.subject for cls in ALL_EVENTS]
    assert len(subjects) == len(set(subjects))
    assert set(CATALOG) == set(subjects)
    for subject in subjects:
        assert SUBJECT_PATTERN.match(subject), subject


@pytest.mark.parametrize("event_cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_event_has_an_example_that_round_trips(event_cls: type[Event]) -> None:
    example = EXAMPLES[event_cls]
    assert type(example) is event_cls
    again = event_cls.model_validate_json(example.model_dump_json())
    assert again == example
    envelope = CloudEvent.wrap(example, source="/modelops/test")
    assert envelope.type == event_cls.subject.removeprefix("modelops.")
    assert envelope.id == str(example.event_id)
    assert envelope.subject == example.entity()


@pytest.mark.parametrize("event_cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_events_are_frozen_and_ignore_unknown_fields(event_cls: type[Event]) -> None:
    example = EXAMPLES[event_cls]
    body = json.loads(example.model_dump_json())
    body["a_field_from_the_future"] = 1  # readers ignore additive fields of newer producers
    assert event_cls.model_validate(body) == example
    with pytest.raises(Exception, match="frozen"):
        example.event_id = example.event_id  # type: ignore[misc]  # frozen on purpose


@pytest.mark.parametrize("event_cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_json_schema_matches_its_snapshot(event_cls: type[Event]) -> None:
    schema = json.dumps(event_cls.model_json_schema(), indent=2, sort_keys=True) + "\n"
    path = SNAPSHOTS / f"{event_cls.subject}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(schema)
    assert schema == path.read_text(), f"{event_cls.__name__} changed: additive only within v1"

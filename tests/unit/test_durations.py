"""The one duration parser (aiops.durations): seconds, Go-style strings and ISO 8601, and its pydantic types."""
from __future__ import annotations

import math

import pytest
from pydantic import BaseModel, Field, ValidationError

from aiops.durations import MAX_DURATION_CHARS, Duration, DurationHours, format_duration, parse_duration
from aiops.features.definitions import parse_duration as features_parse_duration


@pytest.mark.parametrize("text, seconds", [
    (90, 90.0), (1.5, 1.5), ("3600", 3600.0), (" 45 ", 45.0),
    ("300ms", 0.3), ("30s", 30.0), ("90m", 5400.0), ("24h", 86400.0), ("7d", 604800.0), ("2w", 1209600.0),
    ("1h30m", 5400.0), ("1.5h", 5400.0), ("2d12h", 216000.0), ("1m30s", 90.0), ("1h0m10s", 3610.0),
    ("PT24H", 86400.0), ("P1D", 86400.0), ("P1DT12H", 129600.0), ("PT1H30M", 5400.0), ("PT0.5S", 0.5),
    ("pt15m", 900.0), ("PT0,5H", 1800.0), ("P1W", 604800.0), ("P2DT3H4M5S", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
])
def test_every_form_gives_seconds(text, seconds) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad, says", [
    ("", "bad duration"), ("soon", "bad duration"), ("5 minutes", "bad duration"), ("1h 30m", "bad duration"),
    ("h", "bad duration"), ("-5m", "bad duration"), ("P", "bad duration"), ("PT", "bad duration"),
    ("P1DT", "bad duration"), ("24H", "bad duration"), ("1y", "bad duration"),
    ("P1M", "years and months"), ("P1Y2D", "years and months"), ("P1Y", "years and months"),
    (0, "positive"), (-1, "positive"), ("0s", "positive"), (math.inf, "finite"), ("nan", "finite"),
    (True, "bad duration"), (None, "bad duration"), ("1" * (MAX_DURATION_CHARS + 1) + "s", "longer than"),
])
def test_bad_durations_say_what_is_accepted(bad, says) -> None:
    with pytest.raises(ValueError, match=says):
        parse_duration(bad)


def test_help_names_the_three_forms() -> None:
    with pytest.raises(ValueError) as err:
        parse_duration("tomorrow")
    assert "3600" in str(err.value) and "1h30m" in str(err.value) and "PT24H" in str(err.value)


def test_features_use_the_same_parser() -> None:
    assert features_parse_duration is parse_duration


class _Req(BaseModel):
    seconds: Duration = 7200.0
    hours: DurationHours = Field(24.0, gt=0, le=8760)


def test_pydantic_types_keep_their_unit_for_bare_numbers() -> None:
    r = _Req.model_validate({"seconds": "PT1H", "hours": "P2D"})
    assert (r.seconds, r.hours) == (3600.0, 48.0)
    r = _Req.model_validate({"seconds": 90, "hours": 36})
    assert (r.seconds, r.hours) == (90.0, 36.0)
    r = _Req.model_validate({"seconds": "90", "hours": "36"})  # a numeric string is a bare number
    assert (r.seconds, r.hours) == (90.0, 36.0)
    assert _Req.model_validate({"hours": "90m"}).hours == pytest.approx(1.5)


@pytest.mark.parametrize("body", [{"seconds": 0}, {"seconds": "nan"}, {"hours": "P400D"}, {"hours": "P1M"},
                                  {"seconds": [1]}, {"seconds": False}])
def test_pydantic_types_refuse_bad_values(body) -> None:
    with pytest.raises(ValidationError):
        _Req.model_validate(body)


def test_openapi_schema_offers_number_or_string_with_examples() -> None:
    prop = _Req.model_json_schema()["properties"]["hours"]
    assert {s["type"] for s in prop["anyOf"]} == {"number", "string"} and prop["examples"]


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (5, "5s"), (59.4, "59s"), (60, "1m"), (95, "1m35s"),
                                           (3600, "1h"), (5400, "1h30m"), (86400, "1d"), (200_000, "2d7h33m"),
                                           (math.inf, "-")])
def test_format_duration(seconds, text) -> None:
    assert format_duration(seconds) == text
    if text not in ("-", "0s"):
        assert abs(parse_duration(text) - seconds) < 60  # what it prints parses back (to the minute)

"""The harness' one environment parser: defaults, and one line naming a bad value."""

from __future__ import annotations

import pytest

from harness.env import env_int, env_pairs, env_seconds, env_str
from harness.errors import HarnessError, SettingsError


def test_unset_or_blank_means_the_default():
    for env in ({}, {"X": ""}, {"X": "  "}):
        assert env_str(env, "X", "d") == "d"
        assert env_int(env, "X", 7) == 7
        assert env_seconds(env, "X", 1.5) == 1.5
        assert env_seconds(env, "X", None) is None
        assert env_pairs(env, "X") == {}


def test_values_are_read():
    env = {"S": " text ", "I": "42", "F": "2.5", "P": "a=http://x, b = y ,"}
    assert env_str(env, "S") == "text"
    assert env_int(env, "I", 0) == 42
    assert env_seconds(env, "F", 0.0) == 2.5
    assert env_pairs(env, "P") == {"a": "http://x", "b": "y"}


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (lambda env: env_int(env, "V", 0), "1.5", "V='1.5' is not a whole number"),
        (lambda env: env_seconds(env, "V", 0.0), "soon", "V='soon' is not a number"),
        (
            lambda env: env_seconds(env, "V", 0.0),
            "-1",
            "V='-1' must be a number of seconds in 0..3600",
        ),
        (lambda env: env_seconds(env, "V", 0.0), "nan", "V='nan' must be a number of seconds"),
        (lambda env: env_seconds(env, "V", 0.0), "inf", "V='inf' must be a number of seconds"),
        (lambda env: env_seconds(env, "V", 0.0, maximum=60), "61", "in 0..60"),
        (lambda env: env_pairs(env, "V"), "a=1,b", "V: 'b' is not KEY=VALUE"),
        (lambda env: env_pairs(env, "V"), "=1", "V: '=1' is not KEY=VALUE"),
    ],
)
def test_a_bad_value_is_one_line(parse, raw, message):
    with pytest.raises(SettingsError) as caught:
        parse({"V": raw})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, HarnessError), "the CLI prints every HarnessError as a line"

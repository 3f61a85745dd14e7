"""Typed configs: TOML round trip, overrides, validation messages."""

from __future__ import annotations

import tomllib

import pytest

from sciml_core.config import build_config, dumps_toml, parse_overrides, to_dict
from sciml_core.errors import ConfigError
from sciml_core.registry import get_solver


def test_solver_config_round_trips_through_toml() -> None:
    cls = get_solver("pinn").Config
    config = build_config(cls, {"model": {"width": 7}, "train": {"lr": 0.5, "schedule": "cosine"}})
    again = build_config(cls, tomllib.loads(dumps_toml(to_dict(config))))
    assert again == config and again.model.width == 7 and again.train.schedule == "cosine"


def test_overrides_parse_values_and_nest() -> None:
    assert parse_overrides(["a.b=1", "a.c=2.5", "d=true", "e=hello", "f=[1, 2]"]) == {
        "a": {"b": 1, "c": 2.5}, "d": True, "e": "hello", "f": [1, 2]}


@pytest.mark.parametrize("data, message", [
    ({"train": {"schedule": "linear"}}, "invalid value for 'train.schedule': 'linear' (choose one of 'constant'"),
    ({"train": {"lr": "fast"}}, "invalid value for 'train.lr': 'fast' (expected a number)"),
    ({"train": {"lr": -1.0}}, "train.lr must be positive, got -1.0"),
    ({"model": 3}, "'model' must be a table of options, got 3"),
    ({"modle": {}}, "unknown config key 'modle'"),
])
def test_bad_values_name_the_key(data, message) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(get_solver("pinn").Config, data)
    assert str(info.value).startswith(message)

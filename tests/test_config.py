"""List settings (BENCH_MODELS, BENCH_ENGINES, ...) are read one way: config.env_choices."""
from __future__ import annotations

import pytest

from bench_lib import config


def test_items_are_stripped_and_empty_items_dropped(monkeypatch):
    monkeypatch.setenv("BENCH_X", " a, ,b ,")
    assert config.env_choices("BENCH_X", "c") == ("a", "b")


def test_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.delenv("BENCH_X", raising=False)
    assert config.env_choices("BENCH_X", ("c", "d")) == ("c", "d")
    monkeypatch.setenv("BENCH_X", "")
    assert config.env_choices("BENCH_X", "c,d") == ("c", "d")
    assert config.env_choices("BENCH_X", "") == ()


def test_a_value_naming_nothing_is_refused(monkeypatch):
    monkeypatch.setenv("BENCH_X", " , ")
    with pytest.raises(config.ConfigError, match=r"^BENCH_X is empty .*one or more of a, b$"):
        config.env_choices("BENCH_X", "a", allowed=("a", "b"))


def test_unknown_items_are_named_with_the_allowed_values(monkeypatch):
    monkeypatch.setenv("BENCH_X", "a,zz,b,yy")
    with pytest.raises(config.ConfigError) as err:
        config.env_choices("BENCH_X", "a", allowed=("a", "b"), what="engine")
    assert str(err.value) == ("BENCH_X='a,zz,b,yy' names unknown engine(s) 'zz', 'yy'; "
                              "known engines: a, b")
    assert "\n" not in str(err.value)


def test_another_separator_keeps_commas_inside_items(monkeypatch):
    monkeypatch.setenv("BENCH_X", "ttft:5,tpot:1; ttft:9")
    assert config.env_choices("BENCH_X", "", sep=";") == ("ttft:5,tpot:1", "ttft:9")


def test_task_skip_names_the_setting_only_for_a_task_left_out(monkeypatch):
    monkeypatch.setenv("BENCH_TASKS", "squad")
    assert config.task_skip("squad") is None
    assert config.task_skip("arc") == {"_skip": "task 'arc' is not in BENCH_TASKS=squad"}

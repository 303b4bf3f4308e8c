from __future__ import annotations

import pytest

from mtfas.errors import ConfigError
from mtfas.preprocessing import PreprocessSettings, select_frames


def test_key_depends_on_settings_that_change_crops() -> None:
    base = PreprocessSettings()
    assert len(base.key()) == 10
    assert base.key() == PreprocessSettings().key()
    others = [
        PreprocessSettings(size=128),
        PreprocessSettings(scale=1.5),
        PreprocessSettings(sampling="every"),
        PreprocessSettings(n_frames=10),
        PreprocessSettings(square=False),
        PreprocessSettings(border="replicate"),
        PreprocessSettings(orientation="ignore"),
        PreprocessSettings(tag="dlib"),
    ]
    keys = {s.key() for s in others}
    assert base.key() not in keys
    assert len(keys) == len(others)


def test_key_ignores_the_unused_sampling_parameter() -> None:
    assert PreprocessSettings(sampling="even", every_n=7).key() == PreprocessSettings().key()
    every = PreprocessSettings(sampling="every", every_n=3)
    assert every.key() == PreprocessSettings(sampling="every", every_n=3, n_frames=99).key()


def test_cache_dir_name_and_json_round_trip(tmp_path) -> None:
    settings = PreprocessSettings(size=64, scale=1.2, sampling="every", every_n=2)
    assert settings.cache_dir(tmp_path) == tmp_path / f"crops64_{settings.key()}"
    restored = PreprocessSettings.from_json(settings.to_json())
    assert restored.canonical() == settings.canonical()
    assert restored.key() == settings.key()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"scale": -1.0},
        {"sampling": "random"},
        {"every_n": 0},
        {"n_frames": 0},
        {"border": "wrap"},
        {"orientation": "sideways"},
    ],
)
def test_invalid_settings_raise(kwargs) -> None:
    with pytest.raises(ConfigError):
        PreprocessSettings(**kwargs)


def test_from_json_rejects_other_format() -> None:
    with pytest.raises(ConfigError, match="cache format"):
        PreprocessSettings.from_json('{"cache_format": 999, "size": 64}')


def test_select_every_n() -> None:
    settings = PreprocessSettings(sampling="every", every_n=4)
    assert select_frames(10, settings) == [0, 4, 8]
    assert select_frames(0, settings) == []


def test_select_even() -> None:
    settings = PreprocessSettings(sampling="even", n_frames=4)
    assert select_frames(40, settings) == [5, 15, 25, 35]
    assert select_frames(3, settings) == [0, 1, 2]
    frames = select_frames(101, PreprocessSettings(n_frames=25))
    assert len(frames) == 25 and frames == sorted(set(frames)) and frames[-1] < 101

"""Preprocessing settings, the cache key derived from them, and frame sampling."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mtfas.errors import ConfigError

#: Face box enlargement around its centre before cropping (the one definition: training
#: crops, prediction and checkpoints use it).
CROP_SCALE = 1.3

#: Version of the on-disk cache format and of the crop algorithm. Part of the cache key, so
#: a change to either makes a new cache instead of silently mixing old and new crops.
#: 2: per-video records (parts/<video>.json) with source hashes and crop checksums.
CACHE_FORMAT_VERSION = 2

_SAMPLING = ("every", "even")
_BORDERS = ("constant", "replicate")
_ORIENTATIONS = ("auto", "ignore")


@dataclass(frozen=True)
class PreprocessSettings:
    """Everything that determines the crops written to a cache.

    Two settings objects with the same :meth:`canonical` form produce identical crops and
    share a cache folder; any other difference gives another folder.

    Attributes:
        size: Side length in pixels of the square crops written to the cache.
        scale: Factor by which the face box is enlarged around its centre before cropping.
        sampling: ``"every"`` keeps every ``every_n``-th frame (0, n, 2n, ...);
            ``"even"`` keeps ``n_frames`` frames evenly spread over the video.
        every_n: Step of ``"every"`` sampling (ignored for ``"even"``).
        n_frames: Number of frames of ``"even"`` sampling (ignored for ``"every"``).
        square: Crop a square of side ``scale * max(w, h)`` (no distortion). If False the
            enlarged box is cropped as is and resized to ``size x size``.
        border: How the crop is filled where the enlarged box leaves the frame:
            ``"constant"`` (black) or ``"replicate"`` (edge pixels repeated).
        orientation: ``"auto"`` rotates frames upright as the video's rotation metadata
            says (phone videos); ``"ignore"`` uses the frames as stored. Face boxes are
            read in the coordinates of the frame after this step.
        tag: Free label that only separates caches, e.g. the box source used
            (``"oulu-eyes"``, ``"dlib"``), since box sources are not part of the key.
    """

    size: int = 256
    scale: float = CROP_SCALE
    sampling: str = "even"
    every_n: int = 1
    n_frames: int = 25
    square: bool = True
    border: str = "constant"
    orientation: str = "auto"
    tag: str = ""

    def __post_init__(self) -> None:
        """Validate the values.

        Raises:
            ConfigError: If a value is out of range or an option is unknown.
        """
        if not isinstance(self.size, int) or self.size < 8:
            raise ConfigError(f"size must be an integer >= 8 pixels, got {self.size!r}")
        if not float(self.scale) > 0 or not np.isfinite(self.scale):
            raise ConfigError(f"scale must be a positive number, got {self.scale!r}")
        if self.sampling not in _SAMPLING:
            raise ConfigError(f"sampling must be one of {_SAMPLING}, got {self.sampling!r}")
        if not isinstance(self.every_n, int) or self.every_n < 1:
            raise ConfigError(f"every_n must be an integer >= 1, got {self.every_n!r}")
        if not isinstance(self.n_frames, int) or self.n_frames < 1:
            raise ConfigError(f"n_frames must be an integer >= 1, got {self.n_frames!r}")
        if self.border not in _BORDERS:
            raise ConfigError(f"border must be one of {_BORDERS}, got {self.border!r}")
        if self.orientation not in _ORIENTATIONS:
            raise ConfigError(
                f"orientation must be one of {_ORIENTATIONS}, got {self.orientation!r}"
            )

    def canonical(self) -> dict[str, Any]:
        """Return the settings that affect the crops, as a JSON-ready dict.

        The field that the chosen sampling mode ignores (``every_n`` or ``n_frames``) is
        left out, so it does not change the key.
        """
        values = asdict(self)
        values["scale"] = float(self.scale)
        values.pop("n_frames" if self.sampling == "every" else "every_n")
        return values

    def key(self) -> str:
        """Return a short hash (10 hex digits) of the canonical settings and cache format."""
        payload = {"cache_format": CACHE_FORMAT_VERSION, **self.canonical()}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def cache_dir(self, cache_root: str | Path) -> Path:
        """Return the cache folder for these settings under ``cache_root``.

        The name is ``crops{size}_{key}``, e.g. ``crops256_3fa91c0b2d``.
        """
        return Path(cache_root) / f"crops{self.size}_{self.key()}"

    def to_json(self) -> str:
        """Serialise to the JSON stored as ``settings.json`` inside a cache."""
        payload = {"cache_format": CACHE_FORMAT_VERSION, "key": self.key(), **self.canonical()}
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PreprocessSettings:
        """Rebuild settings from :meth:`to_json` output.

        Raises:
            ConfigError: If the JSON is not a settings object of this cache format.
        """
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"settings JSON is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise ConfigError("settings JSON must be an object")
        version = payload.pop("cache_format", None)
        if version != CACHE_FORMAT_VERSION:
            raise ConfigError(
                f"settings are of cache format {version!r}, this mtfas reads format "
                f"{CACHE_FORMAT_VERSION}; preprocess again into a new cache"
            )
        payload.pop("key", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise ConfigError(f"unknown settings in JSON: {unknown}")
        return cls(**payload)


def select_frames(frame_count: int, settings: PreprocessSettings) -> list[int]:
    """Choose the frame indices to crop from a video with ``frame_count`` frames.

    ``"every"`` sampling keeps ``0, n, 2n, ...`` below ``frame_count``. ``"even"``
    sampling splits the video into ``n_frames`` equal segments and keeps the frame at the
    centre of each (``floor((i + 0.5) * frame_count / n_frames)``); a video shorter than
    ``n_frames`` gives all its frames.

    Args:
        frame_count: Number of frames in the video (>= 0).
        settings: The sampling settings.

    Returns:
        Sorted, unique, 0-based frame indices.
    """
    if frame_count <= 0:
        return []
    if settings.sampling == "every":
        return list(range(0, frame_count, settings.every_n))
    if frame_count <= settings.n_frames:
        return list(range(frame_count))
    centres = (np.arange(settings.n_frames) + 0.5) * frame_count / settings.n_frames
    return sorted({int(i) for i in np.floor(centres)})

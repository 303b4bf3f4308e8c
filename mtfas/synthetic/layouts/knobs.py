"""The knobs of the synthetic release writers: what each takes and how it is checked.

Every writer takes ``n_frames`` and ``size`` (with its layout's defaults) and the
rendering keywords of :class:`RenderOptions` (``seed``, ``fps``, ``workers``,
``progress``, and ``fourcc`` where the codec can be chosen), checked into one
:class:`RenderKnobs`; :func:`documents_render_knobs` writes their ``Args`` entries into
the writer's docstring. :func:`as_sorted_ints` and :func:`split_counts` check the
layout-specific selections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from mtfas.errors import ConfigError
from mtfas.synthetic.layouts.codec import Codec
from mtfas.synthetic.layouts.release import NamedRenderJob, RenderRun

N = TypeVar("N")
F = TypeVar("F", bound=Callable[..., Any])

#: One continuation line of the ``**render`` entry per keyword (``fourcc`` where it applies).
_RENDER_KEYWORD_DOCS = {
    "seed": "``seed``: seed of the generator (default 0);",
    "fps": "``fps``: frame rate stored in the videos;",
    "fourcc": "``fourcc``: preferred codec (lossless FFV1 by default; MJPG at the highest "
    "quality, with a warning, where this OpenCV cannot round-trip it);",
    "workers": "``workers``: rendering processes (0, the default, renders in this process);",
    "progress": "``progress``: show a progress bar.",
}


def _knobs_doc(keywords: Sequence[str]) -> str:
    lines = [
        "n_frames: Frames per video.",
        "size: Side of the square frames in pixels (32-1024).",
        "**render: The rendering knobs (:class:`RenderOptions`), by keyword:",
    ]
    return "\n".join(lines + [f"    {_RENDER_KEYWORD_DOCS[k]}" for k in keywords])


#: The ``Args`` entries of the render knobs every writer takes, in its docstring's words.
RENDER_KNOBS_DOC = _knobs_doc(list(_RENDER_KEYWORD_DOCS))
#: The same for a writer whose codecs are fixed by the layout (no ``fourcc``).
FIXED_CODEC_KNOBS_DOC = _knobs_doc([k for k in _RENDER_KEYWORD_DOCS if k != "fourcc"])
#: The ``out`` entry of every writer.
RELEASE_OUT_DOC = (
    "out: Release folder (created; must be absent, empty or an earlier release of the\n"
    "    same settings)."
)
_RENDER_KNOBS_MARKS = {
    "{release_out}": RELEASE_OUT_DOC,
    "{render_knobs}": RENDER_KNOBS_DOC,
    "{render_knobs_fixed_codec}": FIXED_CODEC_KNOBS_DOC,
}
_RENDER_KNOBS_MARK = "{render_knobs"


def documents_render_knobs(writer: F) -> F:
    """Write :data:`RENDER_KNOBS_DOC` where ``writer``'s docstring has a ``{render_knobs}`` line.

    A ``{render_knobs_fixed_codec}`` line gets :data:`FIXED_CODEC_KNOBS_DOC` instead, a
    ``{release_out}`` line the ``out`` entry (:data:`RELEASE_OUT_DOC`).

    Raises:
        TypeError: If the docstring has no such line (a writer that forgot its knobs).
    """
    doc = writer.__doc__ or ""
    if _RENDER_KNOBS_MARK not in doc:
        raise TypeError(f"{writer.__qualname__}'s docstring has no {{render_knobs}} line")
    lines = []
    for line in doc.splitlines():
        entries = _RENDER_KNOBS_MARKS.get(line.strip())
        if entries is None:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines.extend(indent + entry for entry in entries.splitlines())
    writer.__doc__ = "\n".join(lines)
    return writer


class RenderOptions(TypedDict, total=False):
    """The rendering knobs a writer takes by keyword besides ``n_frames`` and ``size``.

    Attributes:
        seed: Seed of the generator (default 0).
        fps: Frame rate stored in the videos (default 25; SiW's 30).
        workers: Rendering processes; 0 (the default) renders in this process.
        progress: Show a progress bar (default False).
    """

    seed: int
    fps: float
    workers: int
    progress: bool


class CodecRenderOptions(RenderOptions, total=False):
    """:class:`RenderOptions` of a writer whose codec can be chosen.

    Attributes:
        fourcc: Preferred codec (default lossless ``FFV1``; see
            :func:`~mtfas.synthetic.layouts.codec.video_codec`).
    """

    fourcc: str


@dataclass(frozen=True)
class RenderKnobs:
    """The checked render knobs of one writer call.

    Attributes:
        n_frames: Frames per video.
        size: Side of the square frames.
        seed: Seed of the generator.
        fps: Frame rate stored in the videos.
        fourcc: Preferred codec.
        workers: Rendering processes.
        progress: Show a progress bar.
    """

    n_frames: int
    size: int
    seed: int = 0
    fps: float = 25.0
    fourcc: str = "FFV1"
    workers: int = 0
    progress: bool = False

    @classmethod
    def of(
        cls,
        writer: str,
        n_frames: int,
        size: int,
        options: Mapping[str, Any],
        *,
        fps: float = 25.0,
        codec: bool = True,
    ) -> RenderKnobs:
        """Check a writer's ``n_frames``, ``size`` and ``**render`` knobs.

        Args:
            writer: The writer's name, for the error.
            n_frames: Frames per video.
            size: Frame side.
            options: The writer's ``**render`` keywords (:class:`RenderOptions`).
            fps: The layout's default frame rate.
            codec: Whether the writer takes ``fourcc``.

        Raises:
            TypeError: For a keyword the writer does not take (as Python would).
            ConfigError: If ``n_frames`` or ``size`` is out of range.
        """
        allowed = set(RenderOptions.__annotations__) | ({"fourcc"} if codec else set())
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(f"{writer}() got an unexpected keyword argument {unknown[0]!r}")
        check_render_knobs(n_frames, size)
        return cls(
            n_frames,
            size,
            int(options.get("seed", 0)),
            float(options.get("fps", fps)),
            options.get("fourcc", "FFV1"),
            options.get("workers", 0),
            options.get("progress", False),
        )

    def settings(self) -> dict[str, Any]:
        """The knobs a release's marker records (``n_frames``, ``size``, ``seed``, ``fps``)."""
        return {"n_frames": self.n_frames, "size": self.size, "seed": self.seed, "fps": self.fps}

    def run(self, codec: Codec, desc: str) -> RenderRun:
        """How the videos are rendered: ``codec``, these processes and progress bar."""
        return RenderRun.of(codec, self.workers, self.progress, desc)

    def job(self, path: Path | str, name: N, codec: Codec) -> NamedRenderJob[N]:
        """The render job of the video ``path`` named ``name``."""
        return NamedRenderJob(str(path), name, self.n_frames, self.size, self.seed, codec, self.fps)


def as_sorted_ints(name: str, values: Iterable[int], allowed: Iterable[int]) -> list[int]:
    """Validate a selection of ids: non-empty, unique, within ``allowed``; sorted.

    Raises:
        ConfigError: Naming the knob and the allowed values.
    """
    allowed = list(allowed)
    try:
        chosen = [int(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be integers among {allowed}, got {values!r}") from exc
    if not chosen or len(set(chosen)) != len(chosen) or not set(chosen) <= set(allowed):
        raise ConfigError(
            f"{name} must be a non-empty selection without repeats of {allowed}, got {chosen}"
        )
    return sorted(chosen)


def split_counts(
    name: str, value: int | Sequence[int] | None, official: dict[str, range]
) -> dict[str, list[int]]:
    """The first ``n`` official subjects of each split (one count, or one per split).

    Args:
        name: Name of the knob, for messages (e.g. ``"subjects_per_split"``).
        value: None for every official subject, one count for every split, or one count
            per split (in the order of ``official``).
        official: The official subject ids of each split.

    Raises:
        ConfigError: If a count is outside ``1..`` the official number.
    """
    splits = list(official)
    if value is None:
        return {split: list(official[split]) for split in splits}
    if isinstance(value, Sequence) and not isinstance(value, str):
        counts = list(value)
    else:
        counts = [value] * len(splits)
    if len(counts) != len(splits):
        raise ConfigError(
            f"{name} must be one count or {len(splits)} ({', '.join(splits)}), got {value!r}"
        )
    chosen = {}
    for split, count in zip(splits, counts, strict=True):
        pool = list(official[split])
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(pool):
            raise ConfigError(
                f"{name} for {split} must be an integer in 1..{len(pool)} (the official "
                f"{split} split has {len(pool)}), got {count!r}"
            )
        chosen[split] = pool[:count]
    return chosen


def check_render_knobs(n_frames: object, size: object) -> None:
    """Check the frames per video (>= 1) and the frame side (32-1024) of a writer.

    Raises:
        ConfigError: Naming the knob and its valid range.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 1:
        raise ConfigError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 1024:
        raise ConfigError(f"size must be an integer in 32..1024, got {size!r}")

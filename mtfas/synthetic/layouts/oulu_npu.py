"""The synthetic benchmark written as an OULU-NPU release (same names, files and protocols).

Mapping: OULU phone ``p`` is synthetic capture device ``p - 1``, session ``s`` is
synthetic session (lighting) ``s - 1``, user ``u`` is synthetic subject ``u`` and File
``f`` is species ``PAI_NAMES[f - 1]`` (1 live, 2/3 print1/print2, 4/5 replay1/replay2).
Each video ``<Split>_files/Phone_Session_User_File.avi`` has a sibling ``.txt`` with one
line ``frame,x1,y1,x2,y2`` per frame (eye centres in pixels, frames numbered from 0, the
default of :class:`~mtfas.preprocessing.EyePositionFile`), and ``Protocols/`` holds the
four protocols built by the official rules
(:func:`mtfas.protocols.oulu_npu.oulu_npu_protocols`, pure: no video needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from mtfas.protocols.oulu_npu import (
    OFFICIAL_USERS,
    PHONES,
    SESSIONS,
    SPLIT_FOLDERS,
    OULULikeName,
    OULUName,
    oulu_npu_protocols,
    oulu_npu_videos,
)
from mtfas.synthetic import Capture
from mtfas.synthetic.layouts.codec import video_codec, write_video
from mtfas.synthetic.layouts.knobs import (
    RenderKnobs,
    as_sorted_ints,
    documents_render_knobs,
    split_counts,
)
from mtfas.synthetic.layouts.release import NamedRenderJob, render_job, write_release, write_text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import CodecRenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "oulu-npu"


def users_by_split(users_per_split: int | Sequence[int] | None = None) -> dict[str, list[int]]:
    """The users of each split: the first ``n`` of the official ranges.

    Args:
        users_per_split: None for all (20 / 15 / 20), one count for every split, or three
            counts (train, dev, test).

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}``.

    Raises:
        ConfigError: If a count is not in ``1..`` the official number of users.
    """
    return split_counts("users_per_split", users_per_split, OFFICIAL_USERS)


_RenderJob = NamedRenderJob[OULUName]


def oulu_knobs(
    out: str | Path,
    phones: Sequence[int],
    sessions: Sequence[int],
    users_per_split: int | Sequence[int] | None,
) -> tuple[Path, list[int], list[int], dict[str, list[int]]]:
    """The checked knobs of an OULU-like writer: ``(root, phones, sessions, users)``.

    Raises:
        ConfigError: If a knob is out of range.
    """
    users = users_by_split(users_per_split)
    phones = as_sorted_ints("phones", phones, PHONES)
    sessions = as_sorted_ints("sessions", sessions, SESSIONS)
    return Path(out).expanduser(), phones, sessions, users


NameT = TypeVar("NameT", bound=OULULikeName)


def oulu_capture(job: NamedRenderJob[NameT]) -> Capture:
    """The capture an OULU-named job shows (see the module docstring for the mapping)."""
    name = job.name
    return render_job(job, (name.user, name.file - 1, name.phone - 1, name.session - 1))


def _render(job: _RenderJob) -> None:
    """Render one capture and write its video and eye-position file."""
    capture = oulu_capture(job)
    path = Path(job.path)
    write_video(path, capture.frames, job.codec, job.fps)
    write_text(path.with_suffix(".txt"), eye_position_text(capture.eyes))


def eye_position_text(eyes: np.ndarray) -> str:
    """The text of an eye-position file: ``frame,x1,y1,x2,y2`` per row of ``(T, 4)`` eyes.

    Frames are numbered from 0 and pixels rounded, as in OULU-NPU's files.
    """
    lines = [",".join([str(t), *(str(round(float(v))) for v in row)]) for t, row in enumerate(eyes)]
    return "\n".join(lines) + "\n"


@documents_render_knobs
def write_oulu_npu(
    out: str | Path,
    *,
    phones: Sequence[int] = PHONES,
    sessions: Sequence[int] = SESSIONS,
    users_per_split: int | Sequence[int] | None = None,
    n_frames: int = 5,
    size: int = 128,
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in OULU-NPU's exact layout.

    With the defaults this is a full-size release (4950 videos); the knobs make it tiny.
    Resumable: calling again with the same settings finishes an interrupted release and
    returns at once when it is complete.

    Args:
        {release_out}
        phones: Phones 1-6 to film with (distinct synthetic capture devices).
        sessions: Sessions 1-3 (distinct lightings).
        users_per_split: Users per split, the first ones of each official range (see
            :func:`users_by_split`); None for all 55.
        {render_knobs}

    Returns:
        What was written.

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    knobs = RenderKnobs.of("write_oulu_npu", n_frames, size, render)
    root, phones, sessions, users = oulu_knobs(out, phones, sessions, users_per_split)
    settings = {"phones": phones, "sessions": sessions, "users": users, **knobs.settings()}
    codec = video_codec(knobs.fourcc)
    planned = []
    for split, name in oulu_npu_videos(phones, sessions, users):
        path = root / SPLIT_FOLDERS[split] / f"{name}.avi"
        planned.append((knobs.job(path, name, codec), [path, path.with_suffix(".txt")]))
    lists = oulu_npu_protocols(phones, sessions, users)
    texts = {relative: "".join(f"{line}\n" for line in lines) for relative, lines in lists.items()}
    run = knobs.run(codec, "synthetic OULU-NPU")
    return write_release(root, LAYOUT, settings, planned, _render, run, texts)

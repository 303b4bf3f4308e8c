"""A synthetic benchmark with partial attacks and known cue masks, in an OULU-NPU-like layout.

Handcrafted pixel-wise supervision (a OneMap for every attack frame) is right for full
prints and replays, where the whole face is the instrument, and wrong for partial attacks:
a cut print shows the attacker's live eyes or mouth through its holes, and paper glasses
cover only the eyes. This release (layout ``"oulu-npu-partial"``) trains on full attacks
and some partial ones and tests on partial attacks of unseen regions and an unseen printer,
and stores for every video its *cue mask*, where the instrument is, so that evaluation
can measure where a model looks. Layout under ``root``::

    Train_files/1_1_01_01.avi   Phone_Session_User_File, File = species id + 1 (two digits:
                                01 live, 02/03 print1/print2, 04/05 replay1/replay2,
                                06.. the partial attacks of
                                mtfas.synthetic.conditions.PARTIALS), users 1-20
    Train_files/1_1_01_01.txt   eye positions (frame, x1, y1, x2, y2; frames from 0), as
                                in OULU-NPU
    Dev_files/..., Test_files/  users 21-35, 36-55
    CueMasks/Train_files/1_1_01_01.avi   the cue mask of every frame (a synthetic-only
                                extra): grey = round(255 x the fraction of the pixel where
                                the attack instrument is seen), in all three channels;
                                0 on live skin and background, lossless like the videos
    Protocols/Partial/Train.txt, Dev.txt, Test.txt   lines ``label,video`` (+1 live,
                                -1 print or partial, -2 replay)

Phones, sessions and users map to the generator as in :mod:`~.oulu_npu`. Each split holds
the species chosen for it (``species``), every one filmed by each phone in each session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mtfas.errors import ConfigError, ProtocolError
from mtfas.protocols.oulu_npu import SESSIONS, SPLIT_FOLDERS, SPLIT_ORDER
from mtfas.synthetic.conditions import ALL_PAI_NAMES, DISPLAYS
from mtfas.synthetic.layouts.codec import video_codec, write_video
from mtfas.synthetic.layouts.knobs import RenderKnobs, documents_render_knobs
from mtfas.synthetic.layouts.oulu_npu import (
    eye_position_text,
    oulu_capture,
    oulu_knobs,
)
from mtfas.synthetic.layouts.release import NamedRenderJob, write_release, write_text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import CodecRenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "oulu-npu-partial"
#: Folder (under the root) mirroring the video folders with the cue-mask videos.
CUE_MASK_FOLDER = "CueMasks"
#: Folder of the protocol files.
PROTOCOL_FOLDER = "Protocols/Partial"
PROTOCOL_STEMS: dict[str, str] = {"train": "Train", "dev": "Dev", "test": "Test"}

#: The default protocol. Train (and dev): live, the full attacks of printer 1 and both
#: displays, cut eyes and paper glasses of printer 1. Test: live and partial attacks of
#: the unseen printer 2 (cut eyes, cut eyes and mouth, paper glasses) and of an unseen
#: region (a paper patch over the mouth).
DEFAULT_SPECIES: dict[str, tuple[str, ...]] = {
    "train": ("live", "print1", "replay1", "replay2", "cut_eyes1", "glasses1"),
    "dev": ("live", "print1", "replay1", "replay2", "cut_eyes1", "glasses1"),
    "test": ("live", "cut_eyes2", "cut_eyes_mouth2", "glasses2", "mouth_patch2"),
}

_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)$")


@dataclass(frozen=True)
class PartialName:
    """A video name ``Phone_Session_User_File`` of the partial-attack release.

    Attributes:
        phone: Phone (capture device), 1-6.
        session: Session (lighting), 1-3.
        user: User id.
        file: Species id + 1 (an index of ``ALL_PAI_NAMES`` plus one).
    """

    phone: int
    session: int
    user: int
    file: int

    @classmethod
    def parse(cls, name: str) -> PartialName:
        """Parse a name such as ``1_1_01_06``.

        Raises:
            ProtocolError: If the name is not four ``_``-separated numbers or the File
                number names no species.
        """
        match = _NAME.match(name)
        if match is None:
            raise ProtocolError(
                f"{name!r} is not a video name Phone_Session_User_File such as '1_1_01_06'"
            )
        phone, session, user, file = (int(g) for g in match.groups())
        if not 1 <= file <= len(ALL_PAI_NAMES):
            raise ProtocolError(
                f"video {name!r} has File {file}; expected 1-{len(ALL_PAI_NAMES)} "
                f"(species {list(ALL_PAI_NAMES)})"
            )
        return cls(phone, session, user, file)

    def __str__(self) -> str:
        """The name, user and File zero-padded to two digits: ``1_1_01_06``."""
        return f"{self.phone}_{self.session}_{self.user:02d}_{self.file:02d}"

    @property
    def pai(self) -> str:
        """Species name."""
        return ALL_PAI_NAMES[self.file - 1]

    def protocol_line(self) -> str:
        """The line naming this video in a protocol file, e.g. ``-1,1_1_01_06``."""
        sign = 1 if self.file == 1 else (-2 if self.file - 1 in DISPLAYS else -1)
        return f"{sign:+d},{self}"


def cue_mask_video(video: str) -> str:
    """The id of the cue-mask video of ``video`` (``CueMasks/`` + the video id)."""
    return f"{CUE_MASK_FOLDER}/{video}"


def protocol_path(split: str) -> str:
    """Path of a split's protocol file relative to the root."""
    return f"{PROTOCOL_FOLDER}/{PROTOCOL_STEMS[split]}.txt"


def check_species(species: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """Validate the species of each split: known names, live included, an attack besides.

    Args:
        species: ``{"train": [...], "dev": [...], "test": [...]}``; None for
            :data:`DEFAULT_SPECIES`.

    Returns:
        The species of each split, in species-id order.

    Raises:
        ConfigError: Naming the split and the offending names.
    """
    species = DEFAULT_SPECIES if species is None else species
    if set(species) != set(SPLIT_ORDER):
        raise ConfigError(
            f"species must give the species of each split {list(SPLIT_ORDER)}, got "
            f"{sorted(species)}"
        )
    out: dict[str, list[str]] = {}
    for split in SPLIT_ORDER:
        names = list(species[split])
        unknown = [n for n in names if n not in ALL_PAI_NAMES]
        if unknown or len(set(names)) != len(names):
            raise ConfigError(
                f"species of {split}: {names} has unknown or repeated names {unknown}; use "
                f"names of {list(ALL_PAI_NAMES)}"
            )
        if "live" not in names or len(names) < 2:
            raise ConfigError(
                f"species of {split} must hold 'live' and at least one attack, got {names}"
            )
        out[split] = sorted(names, key=ALL_PAI_NAMES.index)
    return out


def partial_videos(
    phones: Sequence[int],
    sessions: Sequence[int],
    users: Mapping[str, Sequence[int]],
    species: Mapping[str, Sequence[str]],
) -> list[tuple[str, PartialName]]:
    """Every video of a release: ``(split, name)``, sorted by phone, session, user, File."""
    videos = []
    for split in SPLIT_ORDER:
        files = [ALL_PAI_NAMES.index(s) + 1 for s in species[split]]
        names = [
            PartialName(p, s, u, f)
            for p in phones
            for s in sessions
            for u in users[split]
            for f in files
        ]
        names.sort(key=lambda n: (n.phone, n.session, n.user, n.file))
        videos += [(split, name) for name in names]
    return videos


_RenderJob = NamedRenderJob[PartialName]


def _mask_path(root: Path, video_path: Path) -> Path:
    return root / CUE_MASK_FOLDER / video_path.relative_to(root)


@dataclass(frozen=True)
class _Job:
    job: _RenderJob
    root: str


def _render(item: _Job) -> None:
    """Render one capture; write its video, eye-position file and cue-mask video."""
    job = item.job
    capture = oulu_capture(job)
    path = Path(job.path)
    assert capture.cue_masks is not None  # render_capture always fills them
    grey = np.round(capture.cue_masks * 255.0).astype(np.uint8)
    write_video(_mask_path(Path(item.root), path), np.repeat(grey[..., None], 3, axis=3), job.codec)
    write_text(path.with_suffix(".txt"), eye_position_text(capture.eyes))
    write_video(path, capture.frames, job.codec, job.fps)


@documents_render_knobs
def write_partial(
    out: str | Path,
    *,
    phones: Sequence[int] = (1, 2),
    sessions: Sequence[int] = SESSIONS,
    users_per_split: int | Sequence[int] | None = (8, 4, 6),
    species: Mapping[str, Sequence[str]] | None = None,
    n_frames: int = 4,
    size: int = 128,
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the partial-attack benchmark (layout in the module docstring).

    Resumable like every layout writer.

    Args:
        {release_out}
        phones: Phones 1-6 (synthetic capture devices).
        sessions: Sessions 1-3 (lightings).
        users_per_split: Users per split, the first of each OULU-NPU range (see
            :func:`~mtfas.synthetic.layouts.oulu_npu.users_by_split`).
        species: Species of each split (see :func:`check_species`); None for
            :data:`DEFAULT_SPECIES`.
        {render_knobs}

    Returns:
        What was written: per video the ``.avi``, its eye-position ``.txt`` and its
        cue-mask video, then the protocol files.

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    knobs = RenderKnobs.of("write_partial", n_frames, size, render)
    root, phones, sessions, users = oulu_knobs(out, phones, sessions, users_per_split)
    chosen = check_species(species)
    settings = {
        "phones": phones,
        "sessions": sessions,
        "users": users,
        "species": chosen,
        **knobs.settings(),
    }
    videos = partial_videos(phones, sessions, users, chosen)
    codec = video_codec(knobs.fourcc)
    lists = {
        protocol_path(split): [name.protocol_line() for s, name in videos if s == split]
        for split in SPLIT_ORDER
    }

    planned = []
    for split, name in videos:
        path = root / SPLIT_FOLDERS[split] / f"{name}.avi"
        files = [path, path.with_suffix(".txt"), _mask_path(root, path)]
        planned.append((_Job(knobs.job(path, name, codec), str(root)), files))
    texts = {relative: "".join(f"{line}\n" for line in lines) for relative, lines in lists.items()}
    run = knobs.run(codec, "synthetic partial attacks")
    return write_release(root, LAYOUT, settings, planned, _render, run, texts)


__all__ = [
    "CUE_MASK_FOLDER",
    "DEFAULT_SPECIES",
    "LAYOUT",
    "PartialName",
    "check_species",
    "cue_mask_video",
    "partial_videos",
    "protocol_path",
    "write_partial",
]

"""The synthetic benchmark written as an Idiap Replay-Attack release.

Same folders, names and face-location files as the official release (layout in
:mod:`mtfas.protocols.replay_attack`). Mapping to the synthetic generator
(:func:`mtfas.synthetic.render_capture`):

* client ``c`` is synthetic subject ``3000 + c`` (identities differ from the other
  benchmarks' synthetic releases);
* lighting ``controlled`` is synthetic session 0, ``adverse`` session 1;
* live videos and attacks on the ``fixed`` support are filmed by synthetic device 4 (the
  webcam); ``hand``-held attacks by device 5 (the generator cannot shake a support, so a
  second camera makes the two supports differ);
* attack device ``print`` is species ``print1``, ``mobile`` is ``replay1`` and
  ``highdef`` is ``replay2``; a ``video`` attack source and live take 2 take frames
  further on in the same capture than a ``photo`` source and take 1 (the generator has no
  photo/video distinction), so no two videos are identical.

Each video ``<split>/...mov`` (FFV1 in a QuickTime container, lossless) has
``face-locations/<split>/....face`` with one ``frame x y w h`` line per frame (frames
from 0, the capture's face box rounded to pixels); the frames listed in
``zero_box_frames`` get ``frame 0 0 0 0`` instead ("no face", as the release writes it),
to exercise that path. ``enroll/<split>/client<ID>_session01_webcam_enroll_<lighting>.mov``
(the first ``enroll_clients`` clients of each split) stands for the enrolment videos
that presentation attack detection never reads. Their names follow Idiap's
``bob.db.replay`` 3.0.9 (``create.py``, ``parse_real_filename``: purpose and lighting are
the 4th and 5th ``_`` fields, and only authentication names carry a take number); the
``enroll/<split>/`` folder is this writer's choice (the package does not ship the lists
that name it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mtfas.errors import ConfigError
from mtfas.protocols.replay_attack import (
    DEVICES,
    ENROLL_FOLDER,
    FACE_LOCATIONS,
    LIGHTINGS,
    OFFICIAL_CLIENTS,
    SPLIT_FOLDERS,
    SPLIT_ORDER,
    SUPPORTS,
    TAKES,
    ReplayName,
    replay_attack_videos,
    video_id,
)
from mtfas.synthetic.layouts.codec import Codec, video_codec, write_video
from mtfas.synthetic.layouts.knobs import RenderKnobs, documents_render_knobs, split_counts
from mtfas.synthetic.layouts.release import render_job, write_release, write_text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import CodecRenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "replay-attack"
#: Offset of Replay-Attack clients among synthetic subject ids.
SUBJECT_OFFSET = 3000
SUFFIX = ".mov"
SPECIES = {"print": "print1", "mobile": "replay1", "highdef": "replay2"}
WEBCAM_DEVICE, HAND_DEVICE = 4, 5


def clients_by_split(subjects_per_split: int | Sequence[int] | None = None) -> dict[str, list[int]]:
    """The clients of each split: the first ``n`` of 1-15, 16-30 and 31-50.

    Args:
        subjects_per_split: None for all (15 / 15 / 20), one count for every split, or
            three counts (train, devel, test).

    Raises:
        ConfigError: If a count is out of range.
    """
    return split_counts("subjects_per_split", subjects_per_split, OFFICIAL_CLIENTS)


def synthetic_conditions(name: ReplayName, support: str) -> dict[str, int | str]:
    """The :func:`render_capture` arguments of a video, and its ``segment``.

    See the module docstring for the mapping; ``segment`` is how many ``n_frames``
    blocks into the capture the video starts.
    """
    if name.is_live:
        pai, device, segment = "live", WEBCAM_DEVICE, name.take - 1
    else:
        pai = SPECIES[name.device]
        device = HAND_DEVICE if support == "hand" else WEBCAM_DEVICE
        segment = int(name.medium == "video")
    return {
        "subject": SUBJECT_OFFSET + name.client,
        "pai": pai,
        "device": device,
        "session": LIGHTINGS.index(name.lighting),
        "segment": segment,
    }


@dataclass(frozen=True)
class _RenderJob:
    path: str
    face_path: str | None
    conditions: tuple[int, str, int, int, int]
    n_frames: int
    size: int
    seed: int
    codec: Codec
    fps: float
    zero_frames: tuple[int, ...]


def _render(job: _RenderJob) -> None:
    """Render one capture and write its video and face-location file."""
    subject, pai, device, session, segment = job.conditions
    capture = render_job(job, (subject, pai, device, session), segment + 1)
    start = job.n_frames * segment
    write_video(Path(job.path), capture.frames[start:], job.codec, job.fps)
    if job.face_path is None:
        return
    lines = []
    for t, (x1, y1, x2, y2) in enumerate(capture.boxes[start:]):
        x, y = round(float(x1)), round(float(y1))
        w, h = round(float(x2)) - x, round(float(y2)) - y
        lines.append(f"{t} 0 0 0 0" if t in job.zero_frames else f"{t} {x} {y} {w} {h}")
    write_text(Path(job.face_path), "\n".join(lines) + "\n")


@documents_render_knobs
def write_replay_attack(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = None,
    lightings: Sequence[str] = LIGHTINGS,
    takes: Sequence[int] = TAKES,
    supports: Sequence[str] = SUPPORTS,
    devices: Sequence[str] = DEVICES,
    zero_box_frames: Sequence[int] = (1,),
    enroll_clients: int = 1,
    n_frames: int = 5,
    size: int = 128,
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in Replay-Attack's exact layout.

    With the defaults this has the official sizes (live 60/60/80, attacks 300/300/400,
    plus a few enrolment videos); the knobs make it tiny. Resumable.

    Args:
        {release_out}
        subjects_per_split: Clients of train, devel and test (see
            :func:`clients_by_split`).
        lightings: ``controlled`` and/or ``adverse``.
        takes: Live takes (1-2) per client and lighting.
        supports: ``fixed`` and/or ``hand``.
        devices: Attack devices among ``print``, ``mobile``, ``highdef``.
        zero_box_frames: Frames (0-based) whose face-location line is all zeros in every
            video.
        enroll_clients: Clients per split with enrolment videos (0 for none).
        {render_knobs}

    Returns:
        What was written (``n_videos`` counts the enrolment videos too; no protocol
        files: the protocols are rules on the names).

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    clients = clients_by_split(subjects_per_split)
    lightings = _subset("lightings", lightings, LIGHTINGS)
    supports = _subset("supports", supports, SUPPORTS)
    devices = _subset("devices", devices, DEVICES)
    takes = sorted({int(t) for t in takes})
    if not takes or not set(takes) <= set(TAKES):
        raise ConfigError(f"takes must be a non-empty selection of {list(TAKES)}, got {takes}")
    knobs = RenderKnobs.of("write_replay_attack", n_frames, size, render)
    zero_frames = sorted({int(t) for t in zero_box_frames})
    if any(t < 0 for t in zero_frames):
        raise ConfigError(f"zero_box_frames must be frame numbers >= 0, got {zero_frames}")
    if not isinstance(enroll_clients, int) or enroll_clients < 0:
        raise ConfigError(f"enroll_clients must be an integer >= 0, got {enroll_clients!r}")
    settings = {
        "clients": clients,
        "lightings": lightings,
        "takes": takes,
        "supports": supports,
        "devices": devices,
        "zero_box_frames": zero_frames,
        "enroll_clients": enroll_clients,
        **knobs.settings(),
    }
    videos = replay_attack_videos(clients, lightings, takes, supports, devices)
    enrolment = [
        (
            f"{ENROLL_FOLDER}/{SPLIT_FOLDERS[split]}/client{client:03d}_session01_webcam_enroll_"
            f"{lighting}",
            ReplayName(client, 1, lighting, take=1),
        )
        for split in SPLIT_ORDER
        for client in clients[split][:enroll_clients]
        for lighting in lightings
    ]
    codec = video_codec(knobs.fourcc, SUFFIX)
    zeros = tuple(zero_frames)
    planned: list[tuple[_RenderJob, list[Path]]] = []

    def plan(relative: str, face: bool, conditions: dict[str, int | str]) -> None:
        path = root / f"{relative}{SUFFIX}"
        face_path = root / FACE_LOCATIONS / f"{relative}.face" if face else None
        key = cast(  # the values of these keys are int, str, int, int, int
            tuple[int, str, int, int, int],
            tuple(conditions[k] for k in ("subject", "pai", "device", "session", "segment")),
        )
        face_file = None if face_path is None else str(face_path)
        job = _RenderJob(
            str(path),
            face_file,
            key,
            knobs.n_frames,
            knobs.size,
            knobs.seed,
            codec,
            knobs.fps,
            zeros,
        )
        planned.append((job, [path] if face_path is None else [path, face_path]))

    for split, support, name in videos:
        plan(video_id(split, name, support), True, synthetic_conditions(name, support))
    for relative, live in enrolment:
        plan(relative, False, synthetic_conditions(live, ""))
    run = knobs.run(codec, "synthetic Replay-Attack")
    return write_release(root, LAYOUT, settings, planned, _render, run)


def _subset(name: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    chosen = list(values)
    if not chosen or len(set(chosen)) != len(chosen) or not set(chosen) <= set(allowed):
        raise ConfigError(
            f"{name} must be a non-empty selection without repeats of {list(allowed)}, got {chosen}"
        )
    return [v for v in allowed if v in chosen]

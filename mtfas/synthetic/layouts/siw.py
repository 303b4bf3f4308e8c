"""The synthetic benchmark written as a SiW release (same folders, names and ``.face`` files).

Mapping to the synthetic generator (:func:`mtfas.synthetic.render_capture`):

* SiW subject ``s`` is synthetic subject ``2000 + s`` (identities differ from the other
  benchmarks' synthetic releases);
* sensor ``k`` is synthetic capture device ``k - 1``; replay media 3 and 4 are filmed by
  device ``k + 1`` instead (the generator has two displays, so media 3/4 reuse displays
  1/2 and differ by the camera; a held-out medium 3 or 4 is therefore less unseen than in
  the real data);
* session ``n`` is synthetic session (lighting) ``(n - 1) % 3``; sessions 4-6 take frames
  further on in the same capture, and so does live MediumID 2 (so no two videos are
  identical);
* live is ``live``, print medium 1/2 is ``print1``/``print2``, replay medium ``m`` is
  ``replay1`` (odd m) or ``replay2`` (even m).

Each video ``{Train,Test}/{live,spoof}/<SSS>/<SSS>-<sensor>-<type>-<medium>-<session>.mov``
(FFV1 in a QuickTime container, lossless) has a sibling ``.face`` with one
``x1 y1 x2 y2`` line per frame (the capture's face box, rounded to pixels). Live videos
have MediumID 1 by default (``live_media``; the real release has 1 and 2, each with
sessions 1 and 2: ``live_media=(1, 2), live_sessions=(1, 2)``). The sizes of the real
release are approximated by the defaults (90 + 75 subjects, 2 sensors, 4 live and 2 attack
sessions: 8 live and 24 attack videos per subject, 5280 videos; the real release has
4469).

The real release's other name forms (:mod:`mtfas.protocols.siw`) are written on request:
the live test videos of sensor 2 of ``marked_subjects`` are named ``<name>.m.mov`` (by
default the release's subjects 153, 154, 158 and 161, present only in full-size
releases); the videos of ``mp4_subjects`` are ``.mp4`` files; those of
``suffixed_subjects`` are named ``<name>_<SUFFIX_TEXT>``. Their ``.face`` files share the
stem (``153-2-1-1-1.m.face``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mtfas.protocols.siw import (
    LIVE,
    MARK,
    MARKED_SENSOR,
    MARKED_SUBJECTS,
    MEDIA,
    OFFICIAL_SUBJECTS,
    PRINT,
    REPLAY,
    SENSORS,
    SiWName,
    siw_videos,
    video_id,
)
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

LAYOUT = "siw"
#: Offset of SiW subjects among synthetic subject ids.
SUBJECT_OFFSET = 2000
SUFFIX = ".mov"
#: Container of the videos of ``mp4_subjects``.
MP4 = ".mp4"
#: What follows the underscore in the names of ``suffixed_subjects``.
SUFFIX_TEXT = "1"


def subjects_by_split(
    subjects_per_split: int | Sequence[int] | None = None,
) -> dict[str, list[int]]:
    """The subjects of each split: the first ``n`` of 1-90 (Train) and 91-165 (Test).

    Args:
        subjects_per_split: None for all (90 / 75), one count for both splits, or two
            counts (train, test).

    Raises:
        ConfigError: If a count is out of range.
    """
    return split_counts("subjects_per_split", subjects_per_split, OFFICIAL_SUBJECTS)


def synthetic_conditions(name: SiWName) -> dict[str, int | str]:
    """The :func:`render_capture` arguments of a SiW video (see the module docstring).

    Returns:
        ``subject``, ``pai``, ``device``, ``session`` and ``segment`` (how many
        ``n_frames`` blocks into the capture the video starts).
    """
    if name.type == PRINT:
        pai = f"print{name.medium}"
    elif name.type == REPLAY:
        pai = f"replay{(name.medium - 1) % 2 + 1}"
    else:
        pai = "live"
    device = name.sensor - 1 + (2 if name.type == REPLAY and name.medium > 2 else 0)
    return {
        "subject": SUBJECT_OFFSET + name.subject,
        "pai": pai,
        "device": device,
        "session": (name.session - 1) % 3,
        "segment": (name.session - 1) // 3 + (2 if name.type == LIVE and name.medium > 1 else 0),
    }


_RenderJob = NamedRenderJob[SiWName]


def _render(job: _RenderJob) -> None:
    """Render one capture and write its video and ``.face`` file."""
    conditions = synthetic_conditions(job.name)
    segment = int(conditions.pop("segment"))
    subject, device, session = (int(conditions[key]) for key in ("subject", "device", "session"))
    capture = render_job(job, (subject, conditions["pai"], device, session), segment + 1)
    start = job.n_frames * segment
    path = Path(job.path)
    write_video(path, capture.frames[start:], job.codec, job.fps)
    lines = [" ".join(str(round(float(v))) for v in box) for box in capture.boxes[start:]]
    write_text(path.with_suffix(".face"), "\n".join(lines) + "\n")


def _subject_ids(name: str, values: Sequence[int]) -> list[int]:
    """A possibly empty selection of subject ids 1-999 (sorted)."""
    values = list(values)
    return as_sorted_ints(name, values, range(1, 1000)) if values else []


def file_decoration(
    split: str, name: SiWName, marked: Sequence[int], suffixed: Sequence[int]
) -> str:
    """What follows the five numbers in the file name of a video (see the module docstring)."""
    decoration = ""
    if (
        split == "test"
        and name.type == LIVE
        and name.sensor == MARKED_SENSOR
        and name.subject in marked
    ):
        decoration += MARK
    if name.subject in suffixed:
        decoration += f"_{SUFFIX_TEXT}"
    return decoration


@documents_render_knobs
def write_siw(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = None,
    sensors: Sequence[int] = SENSORS,
    live_sessions: Sequence[int] = (1, 2, 3, 4),
    attack_sessions: Sequence[int] = (1, 2),
    print_media: Sequence[int] = MEDIA[PRINT],
    replay_media: Sequence[int] = MEDIA[REPLAY],
    live_media: Sequence[int] = (1,),
    marked_subjects: Sequence[int] = MARKED_SUBJECTS,
    mp4_subjects: Sequence[int] = (),
    suffixed_subjects: Sequence[int] = (),
    n_frames: int = 5,
    size: int = 128,
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in SiW's exact layout.

    With the defaults this is a full-size release (5280 videos, see the module
    docstring); the knobs make it tiny. Resumable, like every layout writer.

    Args:
        {release_out}
        subjects_per_split: Subjects of Train and Test (see :func:`subjects_by_split`).
        sensors: Sensors 1-2.
        live_sessions: Sessions 1-6 of the live videos.
        attack_sessions: Sessions 1-6 of the attack videos.
        print_media: Print media 1-2 (an empty selection is not allowed).
        replay_media: Replay media 1-4.
        live_media: MediumIDs 1-2 of the live videos.
        marked_subjects: Test subjects whose live sensor-2 videos are named
            ``<name>.m.mov``.
        mp4_subjects: Subjects whose videos are ``.mp4`` files.
        suffixed_subjects: Subjects whose names end in ``_<SUFFIX_TEXT>``.
        {render_knobs}

    Returns:
        What was written (no protocol files: SiW has none).

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    subjects = subjects_by_split(subjects_per_split)
    sensors = as_sorted_ints("sensors", sensors, SENSORS)
    live_sessions = as_sorted_ints("live_sessions", live_sessions, range(1, 7))
    attack_sessions = as_sorted_ints("attack_sessions", attack_sessions, range(1, 7))
    print_media = as_sorted_ints("print_media", print_media, MEDIA[PRINT])
    replay_media = as_sorted_ints("replay_media", replay_media, MEDIA[REPLAY])
    live_media = as_sorted_ints("live_media", live_media, (1, 2))
    marked = _subject_ids("marked_subjects", marked_subjects)
    mp4 = _subject_ids("mp4_subjects", mp4_subjects)
    suffixed = _subject_ids("suffixed_subjects", suffixed_subjects)
    knobs = RenderKnobs.of("write_siw", n_frames, size, render, fps=30.0)
    settings = {
        "subjects": subjects,
        "sensors": sensors,
        "live_sessions": live_sessions,
        "attack_sessions": attack_sessions,
        "print_media": print_media,
        "replay_media": replay_media,
        **knobs.settings(),
    }
    # Recorded only when used, so that earlier releases stay complete.
    for key, value, default in (
        ("live_media", live_media, [1]),
        ("marked_subjects", marked, list(MARKED_SUBJECTS)),
        ("mp4_subjects", mp4, []),
        ("suffixed_subjects", suffixed, []),
    ):
        if value != default:
            settings[key] = value
    videos = siw_videos(
        subjects, sensors, live_sessions, attack_sessions, print_media, replay_media, live_media
    )
    codecs = {SUFFIX: video_codec(knobs.fourcc, SUFFIX)}
    if mp4:
        codecs[MP4] = video_codec(knobs.fourcc, MP4)
    planned = []
    for split, name in videos:
        suffix = MP4 if name.subject in mp4 else SUFFIX
        decoration = file_decoration(split, name, marked, suffixed)
        path = root / f"{video_id(split, name, decoration)}{suffix}"
        planned.append((knobs.job(path, name, codecs[suffix]), [path, path.with_suffix(".face")]))
    run = knobs.run(codecs[SUFFIX], "synthetic SiW")
    return write_release(root, LAYOUT, settings, planned, _render, run)

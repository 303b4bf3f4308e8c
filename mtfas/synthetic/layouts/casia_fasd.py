"""The synthetic benchmark written as a CASIA-FASD release (same folders and file names).

Mapping (documented so that results on it can be read):

* subject: CASIA subject ``s`` (global id: train folder ``s`` is ``s``, test folder ``s``
  is ``20 + s``) is synthetic subject ``4000 + s``, so that no identity is shared with
  the other synthetic benchmarks;
* quality: ``low`` / ``normal`` / ``high`` are synthetic capture devices 0 / 1 / 2, all
  in synthetic session (lighting) 0 (CASIA has one indoor session);
* species: live is ``live``; warped print ``print1``; cut print ``print2``; replay
  ``replay1``. (The synthetic prints are not warped or cut: the two print species differ
  only by their synthetic printer.)

Each video ``train_release/<s>/<name>.avi`` gets a box file
``mtfas_face_boxes/train_release/<s>/<name>.face`` with the generator's true boxes (a
synthetic-only extra, see :mod:`mtfas.synthetic.layouts.face_boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mtfas.protocols.casia_fasd import (
    OFFICIAL_SUBJECTS,
    SPLIT_FOLDERS,
    VIDEO_EXTENSION,
    casia_fasd_videos,
    subject_id,
)
from mtfas.synthetic.layouts.codec import video_codec
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER, BoxedRenderJob, render_boxed
from mtfas.synthetic.layouts.release import (
    SyntheticRelease,
    check_render_knobs,
    claim_folder,
    is_complete,
    run_jobs,
    split_counts,
    write_marker,
)

LAYOUT = "casia-fasd"
#: Synthetic subject id of CASIA subject ``s`` is ``SUBJECT_BASE + s``.
SUBJECT_BASE = 4000
#: Synthetic capture device of each CASIA quality.
QUALITY_DEVICES: dict[str, int] = {"low": 0, "normal": 1, "high": 2}
#: Synthetic species of each CASIA species.
SPECIES: dict[str, str] = {
    "live": "live", "warped_print": "print1", "cut_print": "print2", "replay": "replay1",
}
SESSION = 0


def write_casia_fasd(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = (4, 2),
    n_frames: int = 5,
    size: int = 128,
    seed: int = 0,
    fps: float = 25.0,
    fourcc: str = "FFV1",
    workers: int = 0,
    progress: bool = False,
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in CASIA-FASD's exact layout.

    The default is small (4 training and 2 test subjects, 72 videos); None gives the
    official 20 + 30 subjects (600 videos). Resumable like every layout writer.

    Args:
        out: Release folder (created; must be absent, empty or an earlier release of the
            same settings).
        subjects_per_split: Subjects of ``train_release`` and ``test_release`` (the
            first ones): one count for both, two counts, or None for all.
        n_frames: Frames per video.
        size: Side of the square frames in pixels (32-1024).
        seed: Seed of the generator.
        fps: Frame rate stored in the videos.
        fourcc: Preferred codec (lossless FFV1; MJPG with a warning if unavailable).
        workers: Rendering processes; 0 renders in this process.
        progress: Show a progress bar.

    Returns:
        What was written (no protocol files: CASIA-FASD has none).

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    subjects = split_counts("subjects_per_split", subjects_per_split, OFFICIAL_SUBJECTS)
    check_render_knobs(n_frames, size)
    settings = {"subjects": subjects, "n_frames": n_frames, "size": size,
                "seed": int(seed), "fps": float(fps)}
    videos = casia_fasd_videos(subjects)
    codec = video_codec(fourcc, VIDEO_EXTENSION)
    if is_complete(root, LAYOUT, settings):
        return SyntheticRelease(root, LAYOUT, len(videos), 0, codec.fourcc, codec.lossless,
                                settings, [])
    claim_folder(root, LAYOUT, settings)
    jobs = []
    for split, number, file in videos:
        relative = Path(SPLIT_FOLDERS[split], str(number), file.name)
        path = root / relative.with_suffix(VIDEO_EXTENSION)
        box_path = root / FACE_BOX_FOLDER / relative.with_suffix(".face")
        if path.is_file() and box_path.is_file():
            continue
        jobs.append(BoxedRenderJob(
            str(path), str(box_path), SUBJECT_BASE + subject_id(split, number),
            SPECIES[file.pai], QUALITY_DEVICES[file.quality], SESSION,
            n_frames, size, int(seed), codec, float(fps),
        ))
    run_jobs(render_boxed, jobs, workers, progress, desc="synthetic CASIA-FASD")
    write_marker(root, LAYOUT, settings, complete=True, fourcc=codec.fourcc,
                 lossless=codec.lossless, n_videos=len(videos))
    return SyntheticRelease(root, LAYOUT, len(videos), len(jobs), codec.fourcc,
                            codec.lossless, settings, [])

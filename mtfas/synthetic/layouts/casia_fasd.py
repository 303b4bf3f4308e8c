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
synthetic-only extra, see :mod:`mtfas.synthetic.layouts.face_boxes`). With
``face_box_folder="face-locations"`` and ``faceless_frames`` the box tree is exactly the
one Idiap's ``bob.db.casia_fasd`` ships (:mod:`mtfas.protocols.casia_fasd`):
``face-locations/<split folder>/<subject>/<file>.face``, ``frame x y w h`` lines from
frame 0, ``frame 0 0 0 0`` for the frames of ``faceless_frames`` (no face found).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from mtfas.errors import ConfigError
from mtfas.protocols.casia_fasd import (
    OFFICIAL_SUBJECTS,
    SPLIT_FOLDERS,
    VIDEO_EXTENSION,
    casia_fasd_videos,
    subject_id,
)
from mtfas.synthetic.layouts.codec import video_codec
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER, BoxedRenderJob, render_boxed
from mtfas.synthetic.layouts.knobs import RenderKnobs, documents_render_knobs, split_counts
from mtfas.synthetic.layouts.release import write_release

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import CodecRenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "casia-fasd"
#: Synthetic subject id of CASIA subject ``s`` is ``SUBJECT_BASE + s``.
SUBJECT_BASE = 4000
#: Synthetic capture device of each CASIA quality.
QUALITY_DEVICES: dict[str, int] = {"low": 0, "normal": 1, "high": 2}
#: Synthetic session (lighting) of every video: CASIA has one indoor session.
SESSION = 0
#: Synthetic species of each CASIA species.
SPECIES = {"live": "live", "warped_print": "print1", "cut_print": "print2", "replay": "replay1"}


@documents_render_knobs
def write_casia_fasd(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = (4, 2),
    n_frames: int = 5,
    size: int = 128,
    face_box_folder: str = FACE_BOX_FOLDER,
    faceless_frames: Sequence[int] = (),
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in CASIA-FASD's exact layout.

    The default is small (4 training and 2 test subjects, 72 videos); None gives the
    official 20 + 30 subjects (600 videos). Resumable like every layout writer.

    Args:
        {release_out}
        subjects_per_split: Subjects of ``train_release`` and ``test_release`` (the
            first ones): one count for both, two counts, or None for all.
        {render_knobs}
        face_box_folder: Folder (relative to ``out``) of the true-box tree;
            ``"face-locations"`` gives the name of Idiap's tree.
        faceless_frames: Frames whose box lines are ``frame 0 0 0 0`` in every file.

    Returns:
        What was written (no protocol files: CASIA-FASD has none).

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    subjects = split_counts("subjects_per_split", subjects_per_split, OFFICIAL_SUBJECTS)
    knobs = RenderKnobs.of("write_casia_fasd", n_frames, size, render)
    settings = {
        "subjects": subjects,
        **knobs.settings(),
    }
    folder = PurePosixPath(str(face_box_folder))
    if (
        folder.is_absolute()
        or ".." in folder.parts
        or not folder.parts
        or any(part in SPLIT_FOLDERS.values() for part in folder.parts[:1])
    ):
        raise ConfigError(
            f"face_box_folder must be a folder name inside the release other than the split "
            f"folders, got {face_box_folder!r}"
        )
    try:
        faceless = tuple(sorted({int(f) for f in faceless_frames}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"faceless_frames must be frame numbers, got {faceless_frames!r}"
        ) from exc
    if any(f < 0 or f >= n_frames for f in faceless):
        raise ConfigError(f"faceless_frames must lie in 0-{n_frames - 1}, got {list(faceless)}")
    # Recorded only when used, so that earlier releases stay complete.
    if str(folder) != FACE_BOX_FOLDER:
        settings["face_box_folder"] = str(folder)
    if faceless:
        settings["faceless_frames"] = list(faceless)
    videos = casia_fasd_videos(subjects)
    codec = video_codec(knobs.fourcc, VIDEO_EXTENSION)
    planned = []
    for split, number, file in videos:
        relative = Path(SPLIT_FOLDERS[split], str(number), file.name)
        path = root / relative.with_suffix(VIDEO_EXTENSION)
        box_path = root / folder / relative.with_suffix(".face")
        subject = SUBJECT_BASE + subject_id(split, number)
        conditions = (subject, SPECIES[file.pai], QUALITY_DEVICES[file.quality], SESSION)
        job = BoxedRenderJob.of((path, box_path), conditions, knobs, codec, faceless=faceless)
        planned.append((job, [path, box_path]))
    run = knobs.run(codec, "synthetic CASIA-FASD")
    return write_release(root, LAYOUT, settings, planned, render_boxed, run)

"""The synthetic benchmark written as an MSU-MFSD release (same folders, names, lists).

Mapping (documented so that results on it can be read):

* client: MSU client ``c`` is synthetic subject ``5000 + c`` (no identity shared with
  the other synthetic benchmarks); clients are the first ones of the official
  ``train_sub_list.txt`` / ``test_sub_list.txt``, which are written at the root;
* device: ``laptop`` is synthetic capture device 3 (videos ``.mov``), ``android`` device 4
  (videos ``.mp4``), both in synthetic session (lighting) 1;
* species: ``printed_photo`` is ``print1``, ``ipad_video`` ``replay1``,
  ``iphone_video`` ``replay2``.

Codecs: lossless PNG in ``.mov`` (QuickTime's own tag for it) and lossless FFV1 in
``.mp4``, each checked by a round trip (:func:`~mtfas.synthetic.layouts.video_codec`;
MJPG with a warning where unavailable).

Sideways phone videos: with ``sideways="metadata"`` (default) every Android video is
stored rotated 90 degrees counter-clockwise with a display rotation of 90 degrees in its
track header, which the preprocessing honours; ``"bare"`` stores them rotated without
metadata (the data module needs ``rotate={"android": 90}``); ``"none"`` stores them
upright. (In the real release only some phone videos are sideways.)

True face boxes (upright coordinates) go to ``mtfas_face_boxes/<video id>.face``, a
synthetic-only extra (see :mod:`mtfas.synthetic.layouts.face_boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mtfas.errors import ConfigError
from mtfas.protocols.msu_mfsd import (
    DEVICES,
    EXTENSIONS,
    LIST_FILES,
    OFFICIAL_SPLIT,
    msu_mfsd_videos,
)
from mtfas.synthetic.layouts.codec import video_codec
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER, BoxedRenderJob, render_boxed
from mtfas.synthetic.layouts.knobs import RenderKnobs, documents_render_knobs, split_counts
from mtfas.synthetic.layouts.release import RenderRun, write_release

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import RenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "msu-mfsd"
#: Synthetic subject id of MSU client ``c`` is ``SUBJECT_BASE + c``.
SUBJECT_BASE = 5000
#: Synthetic capture device of each MSU device.
DEVICE_IDS: dict[str, int] = {"laptop": 3, "android": 4}
#: Synthetic session (lighting) of every video.
SESSION = 1
#: Synthetic species of each MSU species.
SPECIES: dict[str, str] = {
    "live": "live",
    "printed_photo": "print1",
    "ipad_video": "replay1",
    "iphone_video": "replay2",
}
#: Lossless codec tried first in each container.
FOURCCS: dict[str, str] = {".mov": "png ", ".mp4": "FFV1"}
SIDEWAYS = ("metadata", "bare", "none")


@documents_render_knobs
def write_msu_mfsd(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = (4, 2),
    devices: Sequence[str] = DEVICES,
    sideways: str = "metadata",
    n_frames: int = 5,
    size: int = 128,
    **render: Unpack[RenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as a release in MSU-MFSD's exact layout.

    The default is small (4 training and 2 test clients, 48 videos); None gives the
    official 15 + 20 clients (280 videos). Resumable like every layout writer.

    Args:
        {release_out}
        subjects_per_split: Training and test clients (the first ones of the official
            lists): one count for both, two counts, or None for all.
        devices: ``"laptop"`` and/or ``"android"``.
        sideways: How Android videos are stored: ``"metadata"``, ``"bare"`` or
            ``"none"`` (see the module docstring).
        {render_knobs_fixed_codec}

    Returns:
        What was written; ``protocol_files`` are the two split lists.

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    official = {split: range(len(ids)) for split, ids in OFFICIAL_SPLIT.items()}
    positions = split_counts("subjects_per_split", subjects_per_split, official)
    clients = {s: [OFFICIAL_SPLIT[s][i] for i in positions[s]] for s in positions}
    chosen_devices = [d for d in DEVICES if d in set(devices)]
    if not chosen_devices or set(devices) - set(DEVICES):
        raise ConfigError(
            f"devices must be a non-empty selection of {list(DEVICES)}, got {devices!r}"
        )
    if sideways not in SIDEWAYS:
        raise ConfigError(f"sideways must be one of {SIDEWAYS}, got {sideways!r}")
    knobs = RenderKnobs.of("write_msu_mfsd", n_frames, size, render, codec=False)
    settings = {
        "clients": clients,
        "devices": chosen_devices,
        "sideways": sideways,
        **knobs.settings(),
    }
    videos = msu_mfsd_videos(clients["train"] + clients["test"], chosen_devices)
    codecs = {ext: video_codec(FOURCCS[ext], ext) for ext in set(EXTENSIONS.values())}
    fourcc = "+".join(sorted({c.fourcc.strip() for c in codecs.values()}))
    lossless = all(c.lossless for c in codecs.values())
    lists = {
        file: "".join(f"{c:02d}\n" for c in clients[split]) for split, file in LIST_FILES.items()
    }

    planned = []
    for name in videos:
        path = root / name.relative
        box_path = root / FACE_BOX_FOLDER / name.relative.with_suffix(".face")
        turned = name.device == "android" and sideways != "none"
        conditions = (
            SUBJECT_BASE + name.client,
            SPECIES[name.pai],
            DEVICE_IDS[name.device],
            SESSION,
        )
        codec = codecs[EXTENSIONS[name.device]]
        options = {"sideways": 90 if turned else 0, "metadata": sideways == "metadata"}
        job = BoxedRenderJob.of((path, box_path), conditions, knobs, codec, **options)
        planned.append((job, [path, box_path]))
    run = RenderRun(fourcc, lossless, knobs.workers, knobs.progress, "synthetic MSU-MFSD")
    return write_release(root, LAYOUT, settings, planned, render_boxed, run, lists)

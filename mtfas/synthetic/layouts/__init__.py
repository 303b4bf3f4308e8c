"""The synthetic benchmark written in the exact layouts of real FAS releases.

Each writer renders synthetic captures as short videos with the file names, annotation
files and protocol files of one benchmark, so the benchmark's data module reads them
unchanged (the project's tests and demo use them in place of the licensed datasets).
``LAYOUTS`` maps a layout name to its writer; a writer takes the output folder and
keyword-only knobs and returns a :class:`SyntheticRelease`.

>>> from mtfas.synthetic.layouts import LAYOUTS
>>> release = LAYOUTS["oulu-npu"]("out/", phones=[1, 2], users_per_split=2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from mtfas.protocols.oulu_npu import in_protocol, oulu_npu_protocols, oulu_npu_videos
from mtfas.synthetic.layouts.casia_fasd import write_casia_fasd
from mtfas.synthetic.layouts.codec import Codec, read_video, video_codec, write_video
from mtfas.synthetic.layouts.msu_mfsd import write_msu_mfsd
from mtfas.synthetic.layouts.oulu_npu import users_by_split, write_oulu_npu
from mtfas.synthetic.layouts.partial import write_partial
from mtfas.synthetic.layouts.release import MARKER_FILE, SyntheticRelease, is_complete
from mtfas.synthetic.layouts.replay_attack import write_replay_attack
from mtfas.synthetic.layouts.siw import write_siw
from mtfas.synthetic.layouts.table import write_table_release

LayoutWriter = Callable[..., SyntheticRelease]

#: Writers by layout name.
LAYOUTS: dict[str, LayoutWriter] = {
    "oulu-npu": write_oulu_npu,
    "siw": write_siw,
    "replay-attack": write_replay_attack,
    "casia-fasd": write_casia_fasd,
    "msu-mfsd": write_msu_mfsd,
    "oulu-npu-partial": write_partial,
    "table": write_table_release,
}

__all__ = [
    "LAYOUTS",
    "MARKER_FILE",
    "Codec",
    "LayoutWriter",
    "SyntheticRelease",
    "in_protocol",
    "is_complete",
    "oulu_npu_protocols",
    "oulu_npu_videos",
    "read_video",
    "users_by_split",
    "video_codec",
    "write_casia_fasd",
    "write_msu_mfsd",
    "write_oulu_npu",
    "write_partial",
    "write_replay_attack",
    "write_siw",
    "write_table_release",
    "write_video",
]

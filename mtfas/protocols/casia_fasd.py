"""CASIA-FASD's layout as plain data: folders, file names, species and quality.

Shared by the data module (:mod:`mtfas.datamodules.casia_fasd`), which reads a copy, and
the synthetic writer (:mod:`mtfas.synthetic.layouts.casia_fasd`), which writes one. No
heavy imports.

Layout of the official release (Zhang et al., ICB 2012; ``root`` holds it)::

    train_release/1/1.avi ... 8.avi, HR_1.avi ... HR_4.avi    subjects 1-20
    test_release/1/...                                         subjects 1-30

Source of the facts below: Idiap's interface ``bob.db.casia_fasd`` 2.0.10 (PyPI), file
``bob/db/casia_fasd/models.py`` (``File.get_type``, ``File.get_quality``,
``File.get_clientid``, ``File.bbx``) and its shipped tree
``bob/db/casia_fasd/face-locations/``.

Twelve videos per subject: ``1``, ``2``, ``HR_1`` live; ``3``, ``4``, ``HR_2`` warped
print; ``5``, ``6``, ``HR_3`` cut print; ``7``, ``8``, ``HR_4`` video replay
(``get_type``). ``HR_*`` are the high-quality camera; ``1``-``8`` alternate between the
normal- and low-quality cameras: odd files (1, 3, 5, 7) are *normal* quality and even
files (2, 4, 6, 8) *low* quality (``get_quality``; the same mapping is spelled out there
as ``real_normal: 1, real_low: 2, ...``).

Subject numbers restart in each folder: ``train_release/1`` and ``test_release/1`` are
different people. The video tables therefore number subjects globally: train subject
``s`` is ``s`` and test subject ``s`` is ``20 + s`` (:func:`subject_id`), as
``get_clientid`` does ("clients in the test set have IDs from 21 to 50").

The release itself has no face annotations and no dev split (one is carved from the
training subjects, see :mod:`mtfas.protocols.subjects`). ``bob.db.casia_fasd`` ships
face locations of all 600 videos in :data:`FACE_LOCATIONS` ``/<split folder>/<subject>/
<file>.face`` (e.g. ``face-locations/train_release/3/HR_1.face``): one line per frame,
``frame x y w h`` (integers, frames numbered from 0, rows contiguous), all zeros where
its detector found no face (580 such lines in 151 files). The data modules read that tree
unchanged through ``face_boxes`` (:mod:`mtfas.datamodules.face_boxes`).

>>> casia_file("HR_3")
CASIAFile(name='HR_3', pai='cut_print', quality='high')
>>> casia_file("1").quality, casia_file("2").quality
('normal', 'low')
>>> len(casia_fasd_videos())
600
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mtfas.errors import ConfigError

#: Species names; index 0 is live.
CASIA_PAI_NAMES: tuple[str, ...] = ("live", "warped_print", "cut_print", "replay")
#: Camera qualities.
QUALITIES: tuple[str, ...] = ("low", "normal", "high")
#: Folder of each official split (there is no dev folder).
SPLIT_FOLDERS: dict[str, str] = {"train": "train_release", "test": "test_release"}
#: Subject folders of each split in the official release.
OFFICIAL_SUBJECTS: dict[str, range] = {"train": range(1, 21), "test": range(1, 31)}
#: Added to a test folder's number to give its global subject id.
TEST_SUBJECT_OFFSET = 20
#: The twelve file names (without ``.avi``) of a subject folder, in release order.
FILE_NAMES: tuple[str, ...] = (
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "HR_1",
    "HR_2",
    "HR_3",
    "HR_4",
)
VIDEO_EXTENSION = ".avi"
#: Name of the face-location tree shipped by ``bob.db.casia_fasd`` (mirrors the release).
FACE_LOCATIONS = "face-locations"

LAYOUT = """\
  train_release/<1..20>/1.avi .. 8.avi, HR_1.avi .. HR_4.avi
  test_release/<1..30>/1.avi .. 8.avi, HR_1.avi .. HR_4.avi
  (1, 2, HR_1 live; 3, 4, HR_2 warped print; 5, 6, HR_3 cut print; 7, 8, HR_4 replay;
   odd files normal quality, even files low, HR_* high)"""


@dataclass(frozen=True)
class CASIAFile:
    """What a CASIA-FASD file name says.

    Attributes:
        name: The name without extension, e.g. ``"3"`` or ``"HR_2"``.
        pai: Species (a name of :data:`CASIA_PAI_NAMES`).
        quality: ``"low"``, ``"normal"`` or ``"high"``.
    """

    name: str
    pai: str
    quality: str


def casia_file(name: str) -> CASIAFile | None:
    """Parse a file name without extension (``"1"`` .. ``"8"``, ``"HR_1"`` .. ``"HR_4"``).

    Returns:
        The parsed name, or None for a name that is not one of the twelve.
    """
    if name not in FILE_NAMES:
        return None
    if name.startswith("HR_"):
        number = int(name[3:])
        return CASIAFile(name, CASIA_PAI_NAMES[number - 1], "high")
    number = int(name)
    return CASIAFile(name, CASIA_PAI_NAMES[(number - 1) // 2], "normal" if number % 2 else "low")


def subject_id(split: str, folder_number: int) -> int:
    """Global subject id of a subject folder: train ``s`` -> ``s``, test ``s`` -> ``20 + s``."""
    return int(folder_number) + (TEST_SUBJECT_OFFSET if split == "test" else 0)


def check_choice(
    name: str, values: Sequence[str] | str | None, allowed: Sequence[str]
) -> tuple[str, ...] | None:
    """Validate a filter (a name or a list of names of ``allowed``); None keeps all.

    Raises:
        ConfigError: Naming the knob and the allowed values.
    """
    if values is None:
        return None
    chosen = (values,) if isinstance(values, str) else tuple(values)
    unknown = [v for v in chosen if v not in allowed]
    if not chosen or unknown:
        raise ConfigError(
            f"{name} must be a non-empty list of {list(allowed)} (or None for all), got {values!r}"
        )
    return tuple(dict.fromkeys(chosen))


def casia_fasd_videos(
    subjects: Mapping[str, Sequence[int]] | None = None,
) -> list[tuple[str, int, CASIAFile]]:
    """Every video of a release: ``(split, folder number, file)``.

    Args:
        subjects: Subject folders of each split (default: the official 20 and 30).
    """
    subjects = OFFICIAL_SUBJECTS if subjects is None else subjects
    videos = []
    for split in SPLIT_FOLDERS:
        for number in subjects[split]:
            for name in FILE_NAMES:
                parsed = casia_file(name)
                assert parsed is not None
                videos.append((split, int(number), parsed))
    return videos

"""The CASIA-FASD data module (Zhang et al., ICB 2012).

It reads a copy of the official release unchanged (layout in
:mod:`mtfas.protocols.casia_fasd`). The release has no protocol files: the folders are
the listing. Each subject folder should hold twelve videos; a folder with fewer (or
more) gives a :class:`~mtfas.errors.DatasetWarning` naming it, and the table lists what
is there. Entries that are not one of the twelve names (``1.avi`` .. ``8.avi``,
``HR_1.avi`` .. ``HR_4.avi``) or not a numbered subject folder are counted in a warning,
never silently dropped.

Splits:

* ``test``: every video of ``test_release`` (subjects numbered ``20 + folder``).
* ``dev``: the release has none; ``dev_fraction`` of the ``train_release`` subjects are
  drawn with ``dev_seed`` (:func:`mtfas.protocols.subjects.draw_dev_subjects`),
  subject-disjoint from training. Filters do not change which subjects are drawn.
* ``train``: the other ``train_release`` subjects. The meta-validation slice is then
  carved from them by :class:`~mtfas.datamodules.FASDataModule`.

Faces come from the dlib detector or from precomputed box files (``face_boxes``, see
:mod:`mtfas.datamodules.face_boxes`), such as the face locations of all 600 videos that
Idiap's ``bob.db.casia_fasd`` ships (``face_boxes=".../bob/db/casia_fasd/face-locations"``,
read unchanged; its all-zero lines are frames without a face).

Quality follows Idiap's ``bob.db.casia_fasd`` 2.0.10 (``models.py``, ``get_quality``):
files 1, 3, 5, 7 are ``normal``, 2, 4, 6, 8 ``low``, ``HR_*`` ``high`` (see
:mod:`mtfas.protocols.casia_fasd`).

>>> dm = CASIAFASDDataModule("/data/CASIA-FASD", quality=["high"])  # doctest: +SKIP
>>> dm.video_table("test").groupby("pai").size()  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mtfas.datamodules.base import SPLITS, Split
from mtfas.datamodules.face_boxes import FaceBoxOption
from mtfas.datamodules.scanned import ScannedReleaseDataModule
from mtfas.datamodules.video import listing
from mtfas.errors import DatasetWarning, ProtocolError
from mtfas.preprocessing import BoxSource
from mtfas.protocols.casia_fasd import (
    CASIA_PAI_NAMES,
    FILE_NAMES,
    LAYOUT,
    QUALITIES,
    SPLIT_FOLDERS,
    VIDEO_EXTENSION,
    casia_file,
    check_choice,
    subject_id,
)
from mtfas.protocols.subjects import draw_dev_subjects

COLUMNS = ["video", "label", "pai", "subject", "quality", "file", "release_subject"]


class CASIAFASDDataModule(ScannedReleaseDataModule):
    """CASIA-FASD: ``train_release`` (with a carved dev split) and ``test_release``.

    Args:
        root: Folder of the copy (holding ``train_release/`` and ``test_release/``).
        quality: Keep only these camera qualities (``"low"``: files 2, 4, 6, 8;
            ``"normal"``: 1, 3, 5, 7; ``"high"``: ``HR_*``); None keeps all.
        attacks: Keep only these attack species (``"warped_print"``, ``"cut_print"``,
            ``"replay"``); live videos are always kept. None keeps all.
        dev_fraction: Fraction of the training subjects carved out as the dev split.
        dev_seed: Seed of that draw.
        face_boxes: None for the dlib detector, or a folder of per-video ``.face`` box
            files (see :mod:`mtfas.datamodules.face_boxes`).
        detector_fallback: With ``face_boxes``: let dlib find the faces of the frames the
            box files miss (else they are skipped and counted).
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` arguments (``crop_size``,
            ``n_frames``, ``cache_dir``, ...) and :class:`~mtfas.datamodules.FASDataModule`
            ones (``image_size``, ``batch_size``, ``meta_val_fraction``, ...).

    Raises:
        ConfigError: If a filter names an unknown value or ``dev_fraction`` is outside
            (0, 1).
    """

    benchmark = "casia-fasd"
    title = "CASIA-FASD"
    required_entries = tuple(SPLIT_FOLDERS.values())
    layout = LAYOUT
    video_extensions = (VIDEO_EXTENSION,)
    pai_names = CASIA_PAI_NAMES

    def __init__(
        self,
        root: str | Path,
        quality: Sequence[str] | str | None = None,
        attacks: Sequence[str] | str | None = None,
        dev_fraction: float = 0.2,
        dev_seed: int = 0,
        face_boxes: str | Path | None = None,
        detector_fallback: bool = True,
        **kwargs: Any,
    ) -> None:
        self.quality = check_choice("quality", quality, QUALITIES)
        self.attacks = check_choice("attacks", attacks, CASIA_PAI_NAMES[1:])
        draw_dev_subjects([1, 2], dev_fraction, dev_seed)  # validates the fraction now
        self.dev_fraction = float(dev_fraction)
        self.dev_seed = int(dev_seed)
        self.faces = FaceBoxOption(face_boxes, detector_fallback)
        super().__init__(root, **kwargs)

    def cache_tag(self) -> str:
        """``casia-<source>``: the face source (dlib or a box folder) separates caches."""
        return f"casia-{self.faces.tag()}"

    def box_source(self, video: str) -> BoxSource:
        """dlib, or the ``face_boxes`` files (with dlib as fallback)."""
        return self.faces.source(self.root)

    # ------------------------------------------------------------ tables
    def dev_subjects(self) -> list[int]:
        """The training subjects carved out as the dev split."""
        table = self.release_table()
        subjects = table.loc[table["release"] == "train", "subject"].unique()
        return draw_dev_subjects(subjects, self.dev_fraction, self.dev_seed)

    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` after the filters; no video is decoded.

        Columns: ``video`` (e.g. ``train_release/1/HR_1``), ``label``, ``pai``,
        ``subject`` (global id: train folder ``s`` is ``s``, test folder ``s`` is
        ``20 + s``), ``quality``, ``file`` (``1`` .. ``8``, ``HR_1`` .. ``HR_4``),
        ``release_subject`` (the folder number).

        Raises:
            DatasetNotFoundError: If the root lacks the layout.
            ProtocolError: If ``split`` is unknown.
        """
        if split not in SPLITS:
            raise ProtocolError(f"split must be one of {list(SPLITS)}, got {split!r}")
        table = self.release_table()
        if split == "test":
            table = table[table["release"] == "test"]
        else:
            is_dev = table["subject"].isin(self.dev_subjects())
            table = table[(table["release"] == "train") & (is_dev == (split == "dev"))]
        if self.quality is not None:
            table = table[table["quality"].isin(self.quality)]
        if self.attacks is not None:
            table = table[(table["pai"] == "live") | table["pai"].isin(self.attacks)]
        return table[COLUMNS].reset_index(drop=True)

    def _scan(self) -> pd.DataFrame:
        """Both folders: the :meth:`video_table` columns plus ``release`` (train / test)."""
        rows: list[dict[str, object]] = []
        unknown: list[str] = []
        incomplete: list[str] = []
        for split, folder in SPLIT_FOLDERS.items():
            base = self.root / folder
            for entry in sorted(base.iterdir(), key=lambda p: p.name):
                if not (entry.is_dir() and entry.name.isdigit()):
                    unknown.append(f"{folder}/{entry.name}")
                    continue
                found = set()
                for file in sorted(entry.iterdir(), key=lambda p: p.name):
                    parsed = casia_file(file.stem) if file.suffix == VIDEO_EXTENSION else None
                    if parsed is None or not file.is_file():
                        unknown.append(f"{folder}/{entry.name}/{file.name}")
                        continue
                    found.add(parsed.name)
                    rows.append(
                        {
                            "video": f"{folder}/{entry.name}/{parsed.name}",
                            "label": "live" if parsed.pai == "live" else "attack",
                            "pai": parsed.pai,
                            "subject": subject_id(split, int(entry.name)),
                            "quality": parsed.quality,
                            "file": parsed.name,
                            "release_subject": int(entry.name),
                            "release": split,
                        }
                    )
                if len(found) != len(FILE_NAMES):
                    missing = [n for n in FILE_NAMES if n not in found]
                    incomplete.append(f"{folder}/{entry.name} (lacks {', '.join(missing)})")
        if unknown:
            warnings.warn(
                f"{self.title}: ignoring {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'}"
                f" under {self.root} that are not release videos: {listing(unknown)}. "
                f"Expected numbered subject folders holding {', '.join(FILE_NAMES)} (.avi).",
                DatasetWarning,
                stacklevel=4,
            )
        if incomplete:
            warnings.warn(
                f"{self.title}: {len(incomplete)} subject folder(s) do not hold the "
                f"{len(FILE_NAMES)} videos of the release: {listing(incomplete)}. Using the "
                "videos that are there; re-copy the release if this is unexpected.",
                DatasetWarning,
                stacklevel=4,
            )
        table = pd.DataFrame(rows, columns=[*COLUMNS, "release"])
        return table.astype({"subject": "int64", "release_subject": "int64"})

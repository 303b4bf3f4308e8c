"""The MSU-MFSD data module (Wen, Han, Jain, TIFS 2015).

It reads a copy of the official release unchanged (layout in
:mod:`mtfas.protocols.msu_mfsd`): the ``real/`` and ``attack/`` folders (also accepted
under ``scene01/``) are the listing. Names that do not follow the release's naming are
counted in a warning; the ``.face`` files beside the videos (comma-separated ``frame, x1,
y1, x2, y2`` plus eye positions, per Idiap's ``bob.db.msu_mfsd_mod`` 2.2.9 ``models.py``
``File.bbx``; see :mod:`mtfas.protocols.msu_mfsd`) are not read: ``face_boxes`` takes
``frame x y w h`` files, so convert them to use them.

The train/test split is by client:

1. ``train_subjects`` / ``test_subjects`` when given (both);
2. else ``train_sub_list.txt`` / ``test_sub_list.txt`` at the root (or beside the
   ``real/`` folder), read leniently (``02``, ``2``, ``client002``);
3. else the official lists built into :data:`mtfas.protocols.msu_mfsd.OFFICIAL_SPLIT`.

Clients on disk that are in neither list are counted in a warning and left out; a
client with other than 8 videos (4 when filtering one device) gets a warning. There is
no official dev split: ``dev_fraction`` of the training clients are drawn with
``dev_seed``, subject-disjoint (:func:`mtfas.protocols.subjects.draw_dev_subjects`);
meta-validation is then carved from the remaining training clients.

Rotation: phone videos stored sideways *with* rotation metadata are rotated upright by
the preprocessing (``PreprocessSettings.orientation="auto"``). For copies stored
sideways *without* metadata, ``rotate`` maps a device (``"android"``), a video id or a
video name to the clockwise rotation that makes its frames upright; it replaces the
metadata for the videos it names (a video or name entry wins over a device entry).
``rotate="idiap"`` turns the six live Android videos that Idiap's ``bob.db.msu_mfsd_mod``
2.2.9 lists as stored upside down (clients 3, 5, 6, 7, 8, 9;
:data:`mtfas.protocols.msu_mfsd.IDIAP_ROTATED`) by 180 degrees, as that interface does;
it is not the default because the source does not say whether those files carry rotation
metadata (with metadata the preprocessing already turns them).

>>> dm = MSUMFSDDataModule("/data/MSU-MFSD", devices=["android"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import pandas as pd

from mtfas.datamodules.base import SPLITS, Split
from mtfas.datamodules.face_boxes import FaceBoxOption
from mtfas.datamodules.scanned import ScannedReleaseDataModule
from mtfas.datamodules.video import listing
from mtfas.errors import ConfigError, DatasetWarning, ProtocolError
from mtfas.preprocessing import BoxSource
from mtfas.protocols.casia_fasd import check_choice
from mtfas.protocols.msu_mfsd import (
    DEVICES,
    EXTENSIONS,
    IDIAP_ROTATED,
    LAYOUT,
    LIST_FILES,
    MSU_PAI_NAMES,
    OFFICIAL_SPLIT,
    MSUName,
    check_split,
    read_subject_list,
)
from mtfas.protocols.subjects import draw_dev_subjects

COLUMNS = ["video", "label", "pai", "subject", "device"]
#: Files beside the videos that are known and deliberately not read.
_IGNORED_SUFFIXES = (".face",)
#: Folder under which some copies nest ``real/`` and ``attack/``.
_NESTED = "scene01"


def _check_rotate(rotate: Mapping[str, int] | str | None) -> dict[str, int]:
    if rotate is None:
        return {}
    if isinstance(rotate, str):
        if rotate != "idiap":
            raise ConfigError(
                f"rotate must map devices or videos to degrees, or be 'idiap' (the videos "
                f"bob.db.msu_mfsd_mod turns by 180 degrees), got {rotate!r}"
            )
        return dict.fromkeys(IDIAP_ROTATED, 180)
    if not isinstance(rotate, Mapping):
        raise ConfigError(f"rotate must map devices or videos to degrees, got {rotate!r}")
    checked = {}
    for key, degrees in rotate.items():
        name = PurePosixPath(str(key)).name
        if key not in DEVICES:
            try:
                MSUName.parse(name)
            except ProtocolError:
                raise ConfigError(
                    f"rotate key {key!r} is neither a device {list(DEVICES)} nor an MSU-MFSD "
                    "video (id such as 'real/real_client003_android_SD_scene01' or its name)"
                ) from None
        if isinstance(degrees, bool) or not isinstance(degrees, int) or degrees % 90:
            raise ConfigError(
                f"rotate[{key!r}] must be a multiple of 90 degrees (clockwise), got {degrees!r}"
            )
        checked[str(key)] = int(degrees) % 360
    return checked


class MSUMFSDDataModule(ScannedReleaseDataModule):
    """MSU-MFSD: the official client split, laptop and Android videos, rotation handled.

    Args:
        root: Folder of the copy (holding ``real/``, ``attack/`` and the split lists).
        devices: Keep only these devices (``"laptop"``, ``"android"``); None keeps both.
        train_subjects: Training client ids (with ``test_subjects``); overrides the lists.
        test_subjects: Test client ids (with ``train_subjects``).
        dev_fraction: Fraction of the training clients carved out as the dev split.
        dev_seed: Seed of that draw.
        face_boxes: None for the dlib detector, or a folder of per-video ``.face`` box
            files (see :mod:`mtfas.datamodules.face_boxes`).
        detector_fallback: With ``face_boxes``: let dlib find the faces of the frames the
            box files miss (else they are skipped and counted).
        rotate: Clockwise rotation by device, video id or video name, for videos stored
            sideways without rotation metadata (replaces the metadata for them); or
            ``"idiap"`` for Idiap's six upside-down videos (180 degrees).
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` and
            :class:`~mtfas.datamodules.FASDataModule` arguments.

    Raises:
        ConfigError: If a filter, ``rotate`` or ``dev_fraction`` is invalid, or only one
            of ``train_subjects`` / ``test_subjects`` is given.
        ProtocolError: If the given train and test clients overlap.
    """

    benchmark = "msu-mfsd"
    title = "MSU-MFSD"
    required_entries: ClassVar[tuple[str, ...]] = ("real", "attack")
    layout = LAYOUT
    video_extensions = tuple(dict.fromkeys(EXTENSIONS.values()))
    pai_names = MSU_PAI_NAMES

    def __init__(
        self,
        root: str | Path,
        devices: Sequence[str] | str | None = None,
        train_subjects: Sequence[int] | None = None,
        test_subjects: Sequence[int] | None = None,
        dev_fraction: float = 0.2,
        dev_seed: int = 0,
        face_boxes: str | Path | None = None,
        detector_fallback: bool = True,
        rotate: Mapping[str, int] | str | None = None,
        **kwargs: Any,
    ) -> None:
        self.devices = check_choice("devices", devices, DEVICES)
        if (train_subjects is None) != (test_subjects is None):
            raise ConfigError(
                "give both train_subjects and test_subjects (client ids), or neither to use "
                "the root's train_sub_list.txt / test_sub_list.txt (or the official lists)"
            )
        self._given_split = (
            None if train_subjects is None else check_split(train_subjects, test_subjects or ())
        )
        draw_dev_subjects([1, 2], dev_fraction, dev_seed)  # validates the fraction now
        self.dev_fraction = float(dev_fraction)
        self.dev_seed = int(dev_seed)
        self.faces = FaceBoxOption(face_boxes, detector_fallback)
        self.rotate = _check_rotate(rotate)
        self._split: tuple[list[int], list[int], str] | None = None
        super().__init__(root, **kwargs)

    # ------------------------------------------------------------ layout
    @property
    def videos_folder(self) -> str:
        """``""`` when ``real/`` sits at the root, ``"scene01"`` when nested under it."""
        nested = self.root / _NESTED
        if not (self.root / "real").is_dir() and (nested / "real").is_dir():
            return _NESTED
        return ""

    def check_root(self) -> None:
        """Check for ``real/`` and ``attack/`` (at the root or under ``scene01/``).

        Raises:
            DatasetNotFoundError: Naming the root and the expected layout.
        """
        folder = self.videos_folder
        if folder:
            entries = type(self).required_entries
            # An instance attribute shadows the class's for this check only (popped below).
            self.required_entries = tuple(f"{folder}/{e}" for e in entries)  # type: ignore[misc]
        try:
            super().check_root()
        finally:
            self.__dict__.pop("required_entries", None)

    def cache_tag(self) -> str:
        """``msu-<face source>`` plus a hash of ``rotate`` when given."""
        tag = f"msu-{self.faces.tag()}"
        if self.rotate:
            text = json.dumps(self.rotate, sort_keys=True)
            tag += "-rot" + hashlib.sha256(text.encode()).hexdigest()[:8]
        return tag

    def box_source(self, video: str) -> BoxSource:
        """dlib, or the ``face_boxes`` files (with dlib as fallback)."""
        return self.faces.source(self.root)

    def video_rotation(self, video: str) -> int | None:
        """The ``rotate`` entry of the video id, its name or its device (None: metadata)."""
        if not self.rotate:
            return None
        name = PurePosixPath(video).name
        for key in (video, name, MSUName.parse(name).device):
            if key in self.rotate:
                return self.rotate[key]
        return None

    # ------------------------------------------------------------ split
    def subject_split(self) -> tuple[list[int], list[int], str]:
        """``(train clients, test clients, where they came from)``.

        Raises:
            ProtocolError: If only one list file exists, a list is malformed, or the
                lists overlap.
        """
        if self._split is None:
            if self._given_split is not None:
                train, test = self._given_split
                source = "train_subjects/test_subjects"
            else:
                train, test, source = self._read_lists()
            self._split = (train, test, source)
        return self._split

    def _read_lists(self) -> tuple[list[int], list[int], str]:
        folders = [self.root]
        if self.videos_folder:
            folders.append(self.root / self.videos_folder)
        for folder in folders:
            paths = {split: folder / name for split, name in LIST_FILES.items()}
            present = [p for p in paths.values() if p.is_file()]
            if len(present) == 2:
                train = read_subject_list(paths["train"])
                test = read_subject_list(paths["test"])
                try:
                    return (*check_split(train, test), f"{paths['train']} and {paths['test']}")
                except ProtocolError as exc:
                    raise ProtocolError(f"{folder}: {exc}") from None
            if present:
                absent = next(p for p in paths.values() if p not in present)
                raise ProtocolError(
                    f"{present[0]} exists but {absent} does not; restore both split lists "
                    "from the release, or pass train_subjects and test_subjects"
                )
        return (
            list(OFFICIAL_SPLIT["train"]),
            list(OFFICIAL_SPLIT["test"]),
            "the official lists built into mtfas",
        )

    def dev_subjects(self) -> list[int]:
        """The training clients carved out as the dev split (among those on disk)."""
        train, _, _ = self.subject_split()
        on_disk = set(self.release_table()["subject"])
        return draw_dev_subjects(
            [c for c in train if c in on_disk] or train, self.dev_fraction, self.dev_seed
        )

    # ------------------------------------------------------------ tables
    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` after the device filter; no video is decoded.

        Columns: ``video`` (e.g. ``real/real_client002_laptop_SD_scene01``), ``label``,
        ``pai``, ``subject`` (client id), ``device``.

        Raises:
            DatasetNotFoundError: If the root lacks the layout.
            ProtocolError: If ``split`` is unknown or the split lists are malformed.
        """
        if split not in SPLITS:
            raise ProtocolError(f"split must be one of {list(SPLITS)}, got {split!r}")
        table = self.release_table()
        train, test, _ = self.subject_split()
        if split == "test":
            table = table[table["subject"].isin(test)]
        else:
            is_dev = table["subject"].isin(self.dev_subjects())
            table = table[table["subject"].isin(train) & (is_dev == (split == "dev"))]
        if self.devices is not None:
            table = table[table["device"].isin(self.devices)]
        return table[COLUMNS].reset_index(drop=True)

    def _scan(self) -> pd.DataFrame:
        prefix = f"{self.videos_folder}/" if self.videos_folder else ""
        rows: list[dict[str, object]] = []
        unknown: list[str] = []
        for folder in ("real", "attack"):
            for file in sorted((self.root / prefix / folder).iterdir(), key=lambda p: p.name):
                if file.suffix in _IGNORED_SUFFIXES:
                    continue
                try:
                    name = MSUName.parse(file.stem)
                except ProtocolError:
                    name = None
                if (
                    name is None
                    or name.folder != folder
                    or not file.is_file()
                    or file.suffix not in self.video_extensions
                ):
                    unknown.append(f"{prefix}{folder}/{file.name}")
                    continue
                rows.append(
                    {
                        "video": f"{prefix}{folder}/{name}",
                        "label": "live" if name.pai == "live" else "attack",
                        "pai": name.pai,
                        "subject": name.client,
                        "device": name.device,
                    }
                )
        if unknown:
            warnings.warn(
                f"{self.title}: ignoring {len(unknown)} file(s) under {self.root} that are "
                f"not release videos: {listing(unknown)}. Expected names such as "
                "real/real_client001_laptop_SD_scene01.mov.",
                DatasetWarning,
                stacklevel=4,
            )
        table = pd.DataFrame(rows, columns=COLUMNS).astype({"subject": "int64"})
        self._check_clients(table)
        return table

    def _check_clients(self, table: pd.DataFrame) -> None:
        train, test, source = self.subject_split()
        listed = set(train) | set(test)
        counts = table.groupby("subject").size()
        unlisted = sorted(set(counts.index) - listed)
        absent = sorted(listed - set(counts.index))
        expected = len(DEVICES) * len(self.pai_names)
        odd = [
            f"client {c} ({n} videos)" for c, n in counts.items() if c in listed and n != expected
        ]
        problems = []
        if unlisted:
            problems.append(
                f"{len(unlisted)} client(s) on disk are in neither list and are "
                f"left out: {listing(unlisted)}"
            )
        if absent:
            problems.append(f"{len(absent)} listed client(s) have no video: {listing(absent)}")
        if odd:
            problems.append(
                f"{len(odd)} client(s) do not have the release's {expected} videos: {listing(odd)}"
            )
        if problems:
            warnings.warn(
                f"{self.title} (split from {source}): " + "; ".join(problems) + ". Using the "
                "videos that are there; re-copy the release or fix the lists if unexpected.",
                DatasetWarning,
                stacklevel=5,
            )

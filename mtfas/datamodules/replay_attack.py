"""The Idiap Replay-Attack data module (Chingovska et al., BIOSIG 2012).

It reads a copy of the official release unchanged (layout in
:mod:`mtfas.protocols.replay_attack`): the splits ``train/``, ``devel/`` (the dev split)
and ``test/`` are listed (sorted); ``enroll/`` is never read. The species is the attack
device of the name (``print``, ``mobile``, ``highdef``), the support (``fixed`` /
``hand``) the attack folder.

Faces come from ``face-locations/<same relative path>.face`` (``frame x y w h`` per
line: ``bob.db.replay`` 3.0.9, ``models.py``, ``File.facefile`` / ``File.bbx``). The
folder is derived from ``root`` when used, so a root rebased by
``CrossDatasetDataModule(data_root=...)`` moves it too. A zero box (no face found by the
release's detector) goes to the dlib detector with ``zero_box="detector"`` (default;
frames the file does not annotate too) or is skipped with ``zero_box="skip"``; either
way a frame that ends without a box is counted as ``no face`` in the preprocessing
summary, and the crops record their origin (``boxes`` or ``dlib``) in the cache's
``index.csv``. A video whose face-location file is missing fails to preprocess (counted,
reason ``bad_annotation``) and ``setup`` names it, unless ``allow_missing_crops=True``;
a missing ``face-locations`` folder is an error at once.

>>> dm = ReplayAttackDataModule("/data/replayattack", protocol="print")  # doctest: +SKIP
>>> dm.video_table("dev")["pai"].unique()  # doctest: +SKIP
array(['live', 'print'], dtype=object)
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mtfas.datamodules.base import Split
from mtfas.datamodules.video import VideoDataModule
from mtfas.errors import ConfigError, DatasetNotFoundError, DatasetWarning, ProtocolError
from mtfas.preprocessing import BoxSource, DlibDetector, FaceBoxFile, Fallback, Mirrored
from mtfas.protocols import replay_attack as release

COLUMNS = ["video", "label", "pai", "subject", "support", "medium", "lighting", "session"]
ZERO_BOX = ("detector", "skip")


class ReplayAttackDataModule(VideoDataModule):
    """Replay-Attack under ``grandtest`` or one of its sub-protocols.

    Args:
        root: Folder of the copy (holding ``train/``, ``devel/``, ``test/``).
        protocol: ``"grandtest"`` (every attack), ``"print"``, ``"mobile"``,
            ``"highdef"`` (attacks of that device only) or ``"fixed"``, ``"hand"``
            (attacks of that support only); every live video is in each.
        face_locations: Folder of the face-location files (default
            ``root/face-locations``).
        zero_box: ``"detector"``: frames with a zero box (or no line) go to the dlib
            detector; ``"skip"``: they give no crop. Counted either way.
        frame_base: Number the face-location files give the first frame. 0, as Idiap's
            interfaces read them: ``bob.pad.face`` 2.2.3 (``database/replay.py``,
            ``ReplayPadFile.annotations``) takes line n as frame n, and the files of
            the same format that ``bob.db.casia_fasd`` 2.0.10 ships number their frames
            from 0. No public source shows a Replay-Attack file itself, so it stays a
            knob.
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` and
            :class:`~mtfas.datamodules.FASDataModule` arguments.

    Raises:
        ProtocolError: If the protocol is unknown.
        ConfigError: If ``zero_box`` is unknown.
    """

    benchmark = "replay-attack"
    title = "Replay-Attack"
    required_entries = ("train", "devel", "test")
    layout = release.LAYOUT
    video_extensions = (".mov", ".mp4", ".avi")
    pai_names = release.REPLAY_PAI_NAMES

    def __init__(
        self,
        root: str | Path,
        protocol: str = "grandtest",
        face_locations: str | Path | None = None,
        zero_box: Literal["detector", "skip"] = "detector",
        frame_base: int = 0,
        **kwargs: Any,
    ) -> None:
        release.check_protocol(protocol)
        if zero_box not in ZERO_BOX:
            raise ConfigError(f"zero_box must be one of {ZERO_BOX}, got {zero_box!r}")
        self.protocol = protocol
        self.zero_box = zero_box
        self.frame_base = int(frame_base)
        self._custom_locations = face_locations is not None
        self._face_locations = None if face_locations is None else Path(face_locations).expanduser()
        self._boxes: dict[tuple[Path, Path], BoxSource] = {}
        super().__init__(root, **kwargs)

    @property
    def face_locations(self) -> Path:
        """The face-location folder: ``face_locations``, else ``root/face-locations``.

        Derived from the current ``root`` each time, so that a root rebased after
        construction (``CrossDatasetDataModule(data_root=...)``) moves it too.
        """
        return (
            self.root / release.FACE_LOCATIONS
            if self._face_locations is None
            else self._face_locations
        )

    # ------------------------------------------------------------ video core hooks
    def cache_tag(self) -> str:
        """``replay-faces<base>[+dlib][-<hash of a custom face-locations folder>]``."""
        tag = f"replay-faces{self.frame_base}" + ("+dlib" if self.zero_box == "detector" else "")
        if self._custom_locations:
            resolved = str(self.face_locations.resolve())
            tag += "-" + hashlib.sha256(resolved.encode()).hexdigest()[:8]
        return tag

    def box_source(self, video: str) -> BoxSource:
        """The video's face-location file (with the detector for zero boxes)."""
        key = (self.root, self.face_locations)
        if key not in self._boxes:
            annotations = FaceBoxFile(
                layout="frame_xywh",
                annotation_path=Mirrored(self.root, self.face_locations, ".face"),
                frame_base=self.frame_base,
            )
            self._boxes[key] = (
                Fallback(annotations, DlibDetector())
                if self.zero_box == "detector"
                else annotations
            )
        return self._boxes[key]

    def check_root(self) -> None:
        """Check the root (see the base class) and the face-locations folder.

        Raises:
            DatasetNotFoundError: If either is missing.
        """
        super().check_root()
        if not self.face_locations.is_dir():
            raise DatasetNotFoundError(
                f"Replay-Attack face locations not found: {self.face_locations} is not a "
                "folder. The release ships them as face-locations/<split>/.../<video>.face; "
                "copy them there or pass face_locations=<folder>."
            )

    # ------------------------------------------------------------ tables
    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` (``dev`` is ``devel/``) under the protocol; none decoded.

        Columns: ``video`` (e.g. ``train/attack/hand/attack_print_client001_...``),
        ``label``, ``pai`` (attack device), ``subject`` (client id), ``support``
        (``fixed`` / ``hand``, ``""`` for live), ``medium`` (``photo`` / ``video``,
        ``""`` for live), ``lighting``, ``session``.

        Raises:
            DatasetNotFoundError: If the root or the face-locations folder is missing.
            ProtocolError: If a video's name is not a Replay-Attack name.
        """

        def build() -> pd.DataFrame:
            table = self._list(release.SPLIT_FOLDERS[split])
            keep = [
                release.in_protocol(self.protocol, release.ReplayName.parse(Path(v).name), s)
                for v, s in zip(table["video"], table["support"], strict=True)
            ]
            return table[keep].reset_index(drop=True)

        return self.memoized_split(split, build)

    def _list(self, folder: str) -> pd.DataFrame:
        base = self.root / folder
        files = self.video_files(folder)
        rows = []
        seen: set[str] = set()
        misplaced: list[str] = []
        duplicates: list[str] = []
        for path in files:
            relative = path.relative_to(self.root).with_suffix("").as_posix()
            parts = path.relative_to(base).parts
            try:
                name = release.ReplayName.parse(path.stem)
            except ProtocolError as exc:
                raise ProtocolError(
                    f"{path}: {exc}. Is {self.root} a copy of Replay-Attack? Move other "
                    f"files out of {folder}/."
                ) from None
            if relative in seen:
                duplicates.append(relative)
                continue
            seen.add(relative)
            support = ""
            if name.is_live:
                if parts[:-1] != ("real",):
                    misplaced.append(relative)
            elif len(parts) == 3 and parts[0] == "attack" and parts[1] in release.SUPPORTS:
                support = parts[1]
            else:
                misplaced.append(relative)
                continue
            rows.append(
                {
                    "video": relative,
                    "label": "live" if name.is_live else "attack",
                    "pai": name.pai,
                    "subject": name.client,
                    "support": support,
                    "medium": name.medium,
                    "lighting": name.lighting,
                    "session": name.session,
                }
            )
        if misplaced:
            warnings.warn(
                f"{base}: {len(misplaced)} video(s) are not where the release puts them "
                "(live under real/, attacks under attack/fixed/ or attack/hand/), e.g. "
                f"{misplaced[0]}; live ones are used, attacks without a support folder are "
                "excluded",
                DatasetWarning,
                stacklevel=4,
            )
        if duplicates:
            warnings.warn(
                f"{base}: {len(duplicates)} video(s) exist with several extensions, e.g. "
                f"{duplicates[0]}; using the first of {list(self.video_extensions)}",
                DatasetWarning,
                stacklevel=4,
            )
        table = pd.DataFrame(rows, columns=COLUMNS)
        table[["subject", "session"]] = table[["subject", "session"]].astype("int64")
        return table

r"""Your own data: a table (CSV or Parquet) of images and videos, or a folder of them.

:class:`TableDataModule` reads a data set that no benchmark module knows (a lab's own
captures, CelebA-Spoof, Replay-Mobile, ...) and puts it through exactly the path of the
benchmarks: the same preprocessing into the same crop cache
(:class:`~mtfas.datamodules.VideoDataModule`), the same subject-disjoint meta-validation
slice, loaders, metrics and score files.

The table
---------
One row per image or video (a CSV file with a header line, or a Parquet file; Parquet
needs ``pip install "mtfas[parquet]"``). Column names are case-insensitive:

``path`` (required)
    The file. A relative path resolves against ``root``, which defaults to **the folder
    of the table** (so a table next to its data is portable); ``~`` is expanded. Every
    file must lie under ``root``: its path relative to ``root`` without the extension is
    its id (crop-cache name, ``video`` column of ``scores.csv``), so two files that differ
    only by their extension (``a.jpg``, ``a.png``) collide (a bad row). Files whose
    suffix is in :data:`~mtfas.preprocessing.IMAGE_SUFFIXES` are **images**: read with
    OpenCV (EXIF orientation applied) as one-frame items; the suffixes of
    :data:`~mtfas.preprocessing.VIDEO_SUFFIXES` are videos (frames sampled by
    ``sampling`` / ``n_frames``).
``label`` and/or ``species`` (one required)
    ``label``: ``0`` (bona fide) or ``1`` (attack); ``live`` and ``attack`` are accepted
    too. ``species``: the attack instrument's name (``print``, ``replay``, ``mask``, ...);
    ``live``, ``bona fide``, ``bonafide``, ``bona_fide``, ``bona-fide``, ``real`` and
    ``genuine`` (any case) mean bona fide. With both, they must agree. Species ids
    (``pai_names``) are ``live`` then the attack species sorted by name, or the order of
    the ``species`` argument, which also makes any other species a bad row. A row with a
    label and no species has species ``attack`` (or ``live``).
``subject`` (required)
    The identity (any text). Plain integers (``7``, not ``007``) keep their numbers;
    otherwise the sorted names are numbered from 0 (``subject_name`` keeps the text).
``split`` (required)
    ``train``, ``dev`` or ``test`` (any case). Without any ``dev`` row, ``dev_fraction``
    of the training subjects form a subject-disjoint dev split (drawn with ``dev_seed``
    by :func:`mtfas.protocols.subjects.draw_dev_subjects`, as for CASIA-FASD and
    MSU-MFSD); the meta-validation slice is then carved from the remaining training
    subjects by :class:`~mtfas.datamodules.FASDataModule`.
Face location (optional, per row; the first one a row fills is used)
    ``annotation``: a per-row annotation file (relative paths resolve against ``root``) in
    ``annotation_format``: ``frame_xywh`` (``frame x y w h`` per line, Replay-Attack and
    Idiap's face-locations), ``corners`` (``x1 y1 x2 y2``, line n = frame n, SiW) or
    ``eyes`` (``frame, x1, y1, x2, y2`` eye centres, OULU-NPU); frames count from 0 and an
    image is frame 0. ``x1, y1, x2, y2``: a face box in pixels of the (upright) image,
    used for every frame of a video. ``left_eye_x, left_eye_y, right_eye_x, right_eye_y``:
    two eye centres (landmarks; order does not matter), turned into a box as OULU-NPU's
    eye files are (:func:`~mtfas.preprocessing.eyes_to_box`). Rows without any (empty
    cells) and frames a file misses go to dlib's detector (``detector_fallback=True``),
    else they are skipped and counted as ``no annotation``.

Any other column is kept in the video tables.

The folder convention
---------------------
Without a table, ``folder`` builds one (:meth:`TableDataModule.table_from_folder`)::

    <folder>/<split>/<live or species>/<subject>/.../<file>

Every image or video below ``<folder>/<split>/<class>/`` is a row: ``split`` the first
folder (``train``, ``dev``, ``test``; any other name makes its files bad rows),
``species`` the second (``live`` or an alias above is bona fide), ``subject`` the third
(files may sit deeper, e.g. one folder per session). With ``subject_pattern`` (a regular
expression with one group, searched in the path below the class folder) the subject comes
from the file name instead, and the files may sit directly in the class folder, e.g.
``subject_pattern="^(\d+)_"`` reads subject ``12`` from ``train/live/12_a.jpg``. Files that
are neither images nor videos, and hidden entries (names starting with ``.``), are
counted in a warning; relative paths resolve against ``folder`` (the default ``root``).
There are no face columns: faces come from dlib.

Bad rows
--------
A row whose file is missing, whose split, label or species is unknown (or missing),
whose label and species disagree, whose subject also appears in another split (the rows
outside the subject's main split, the one with most of its rows), whose id repeats
another row's, whose file is not an image or video or lies outside ``root``, or whose face
columns or annotation file are unusable is a bad row. ``on_bad_row="error"`` (default)
raises :class:`~mtfas.errors.TableRowError` naming each such row by its line in the CSV
file (the header is line 1; Parquet: row n, from 1) and its path, with the reason;
``on_bad_row="skip"`` leaves them out, counts them by reason in :attr:`TableDataModule.bad_rows`
and prints the counts (when the table is read and after the preprocessing summary).

Crops go to the default cache of :mod:`mtfas.datamodules.video` (``<cache base>/table/
<root name>-<hash>``), or ``cache_dir``; the boxes of the face columns are written there
too (``table_boxes/<id>.box``), so editing a box recomputes only that item's crops.

>>> dm = TableDataModule("/data/my_fas/table.csv", species=["print", "replay"])  # doctest: +SKIP
>>> dm = TableDataModule(folder="/data/my_fas")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from mtfas.datamodules.base import SPLITS, Split
from mtfas.datamodules.table_faces import FixedPath, RowFaces, StaticBox
from mtfas.datamodules.video import VideoDataModule, listing
from mtfas.errors import (
    ConfigError,
    DatasetError,
    DatasetNotFoundError,
    DatasetWarning,
    ProtocolError,
    TableRowError,
)
from mtfas.extras import require
from mtfas.io import atomic_write_text
from mtfas.preprocessing import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Box,
    BoxSource,
    EyePositionFile,
    FaceBoxFile,
    VideoJob,
    eyes_to_box,
)
from mtfas.preprocessing.cache import check_video_id
from mtfas.protocols.subjects import draw_dev_subjects

#: Columns every table needs (and one of ``label`` / ``species``).
TABLE_COLUMNS = ("path", "subject", "split")
#: Face box columns (pixels of the upright image).
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
#: Eye-centre columns (landmarks), turned into a box.
EYE_COLUMNS = ("left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y")
#: Column of per-row annotation files.
ANNOTATION_COLUMN = "annotation"
#: Species names that mean bona fide (compared in lower case).
LIVE_NAMES = frozenset(
    {"live", "bona fide", "bonafide", "bona_fide", "bona-fide", "real", "genuine"}
)
#: Formats of the per-row annotation files.
ANNOTATION_FORMATS = ("frame_xywh", "corners", "eyes")
#: Table suffixes read as CSV and as Parquet.
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Folder of the cache root holding the boxes of the face columns.
BOX_FOLDER = "table_boxes"

#: Why a row is bad, with the words used in messages and counts.
BAD_ROW_REASONS = {
    "missing_value": "missing value",
    "unknown_split": "unknown split",
    "unknown_label": "unknown label",
    "unknown_species": "unknown species",
    "label_species_disagree": "label and species disagree",
    "missing_file": "missing file",
    "not_media": "not an image or video",
    "outside_root": "outside root",
    "duplicate": "duplicate id",
    "bad_face": "unusable face columns",
    "missing_annotation": "missing annotation file",
    "subject_in_two_splits": "subject in two splits",
}

VIDEO_COLUMNS = ["video", "label", "pai", "subject", "subject_name", "kind", "file", "row"]

FOLDER_LAYOUT = """\
  <folder>/train/live/<subject>/.../<image or video>
  <folder>/train/<species>/<subject>/.../<image or video>
  <folder>/dev/...    (optional: without it dev is carved from train by subject)
  <folder>/test/..."""


# ---------------------------------------------------------------- the data module
class TableDataModule(VideoDataModule):
    """Your own images and videos, listed by a table or a folder (see the module docstring).

    Args:
        table: The CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) file. Give it or
            ``folder``.
        folder: A folder in the folder convention, instead of a table.
        root: Folder that relative paths resolve against (default: the table's folder,
            or ``folder``); every file must lie under it.
        species: The attack species, in the order of their ids (``pai_names[1:]``); any
            other species is a bad row. None: the species of the table, sorted.
        dev_fraction: Without ``dev`` rows: fraction of the training subjects carved out
            as the dev split.
        dev_seed: Seed of that draw.
        subject_pattern: Folder convention: regular expression with one group that finds
            the subject in the path below the class folder (default: its first folder).
        detector_fallback: Let dlib find the faces of rows (and frames) that the face
            columns or annotation files do not locate; False skips and counts them.
        annotation_format: Format of the ``annotation`` files: ``frame_xywh``,
            ``corners`` or ``eyes``.
        on_bad_row: ``"error"`` raises about bad rows, naming them; ``"skip"`` leaves
            them out, counted and reported.
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` arguments (``crop_size``,
            ``n_frames``, ``cache_dir``, ...) and :class:`~mtfas.datamodules.FASDataModule`
            ones (``image_size``, ``batch_size``, ``meta_val_fraction``, ...).

    Raises:
        ConfigError: If neither or both of ``table`` and ``folder`` are given, or an
            argument has an unknown value.
    """

    benchmark: ClassVar[str] = "table"
    title: ClassVar[str] = "Table"
    layout: ClassVar[str] = FOLDER_LAYOUT
    video_extensions: ClassVar[tuple[str, ...]] = tuple(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))

    def __init__(
        self,
        table: str | Path | None = None,
        folder: str | Path | None = None,
        root: str | Path | None = None,
        species: Sequence[str] | None = None,
        dev_fraction: float = 0.2,
        dev_seed: int = 0,
        subject_pattern: str | None = None,
        detector_fallback: bool = True,
        annotation_format: Literal["frame_xywh", "corners", "eyes"] = "frame_xywh",
        on_bad_row: Literal["error", "skip"] = "error",
        **kwargs: Any,
    ) -> None:
        if (table is None) == (folder is None):
            raise ConfigError(
                "TableDataModule needs exactly one of table (a CSV or Parquet file listing "
                "path, label or species, subject, split) and folder (a folder "
                f"<split>/<live or species>/<subject>/...); got table={table!r}, "
                f"folder={folder!r}"
            )
        self.table_path = None if table is None else Path(table).expanduser()
        self.folder = None if folder is None else Path(folder).expanduser()
        #: The table file, or the folder of the folder convention.
        given = table if table is not None else folder
        assert given is not None  # checked above
        self.source = Path(given).expanduser()
        if self.table_path is not None and self.table_path.suffix.lower() not in (
            *CSV_SUFFIXES,
            *PARQUET_SUFFIXES,
        ):
            raise ConfigError(
                f"table must be a .csv or .parquet file, got {self.table_path}; convert it, "
                "or use folder= for the folder convention"
            )
        if on_bad_row not in ("error", "skip"):
            raise ConfigError(f"on_bad_row must be 'error' or 'skip', got {on_bad_row!r}")
        if annotation_format not in ANNOTATION_FORMATS:
            raise ConfigError(
                f"annotation_format must be one of {list(ANNOTATION_FORMATS)}, got "
                f"{annotation_format!r}"
            )
        self.species = None if species is None else _check_species(species)
        draw_dev_subjects([1, 2], dev_fraction, dev_seed)  # validates the fraction now
        self.dev_fraction = float(dev_fraction)
        self.dev_seed = int(dev_seed)
        self.subject_pattern = subject_pattern
        if subject_pattern is not None:
            try:
                groups = re.compile(subject_pattern).groups
            except re.error as exc:
                raise ConfigError(f"subject_pattern {subject_pattern!r}: {exc}") from exc
            if groups != 1:
                raise ConfigError(
                    f"subject_pattern must have exactly one group (the subject), got "
                    f"{subject_pattern!r}"
                )
        self.detector_fallback = bool(detector_fallback)
        self.annotation_format = annotation_format
        self.on_bad_row = on_bad_row
        default_root = self.source if self.folder is not None else self.source.parent
        super().__init__(default_root if root is None else root, **kwargs)
        self._rows: pd.DataFrame | None = None
        self._faces: dict[str, tuple[str, str]] = {}
        self._files: dict[str, str] = {}
        #: The rows left out (``on_bad_row="skip"``): ``row``, ``path``, ``reason`` (a key
        #: of :data:`BAD_ROW_REASONS`), ``detail``. Filled when the table is read.
        self.bad_rows = pd.DataFrame(columns=["row", "path", "reason", "detail"])
        #: Whether the dev split was carved from the training subjects.
        self.dev_carved = False

    # ------------------------------------------------------------ species
    @property
    def pai_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """``live``, then the attack species (``species``, or those of the table, sorted)."""
        if self.species is not None:
            return ("live", *self.species)
        rows = self._memo()
        return ("live", *sorted(set(rows.loc[rows["label"] == "attack", "pai"])))

    # ------------------------------------------------------------ the table
    def check_root(self) -> None:
        """Check that the table (or folder) and ``root`` exist.

        Raises:
            DatasetNotFoundError: Naming what is missing.
        """
        if self.table_path is not None and not self.table_path.is_file():
            raise DatasetNotFoundError(
                f"table {self.table_path} does not exist (or is not a file); pass the CSV or "
                "Parquet file listing your data as table (--data.init_args.table)"
            )
        if self.folder is not None and not self.folder.is_dir():
            raise DatasetNotFoundError(
                f"folder {self.folder} does not exist (or is not a folder). Expected the "
                f"layout:\n{FOLDER_LAYOUT}\n(--data.init_args.folder)"
            )
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"root {self.root} does not exist (or is not a folder): the relative paths of "
                f"{self.source} resolve against it; pass the folder holding your files as root"
            )

    @classmethod
    def table_from_folder(
        cls, folder: str | Path, subject_pattern: str | None = None
    ) -> pd.DataFrame:
        """The table of a folder in the folder convention (see the module docstring).

        Args:
            folder: The folder.
            subject_pattern: Regular expression with one group finding the subject in the
                path below the class folder (default: the first folder there).

        Returns:
            Columns ``path`` (relative to ``folder``, POSIX), ``split``, ``species``,
            ``subject`` (empty where none was found: a bad row), sorted by path. Write it
            with ``to_csv(folder / "table.csv", index=False)`` to edit it.

        Raises:
            DatasetNotFoundError: If ``folder`` is not a folder.
        """
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise DatasetNotFoundError(f"folder {folder} does not exist (or is not a folder)")
        pattern = None if subject_pattern is None else re.compile(subject_pattern)
        media = IMAGE_SUFFIXES | VIDEO_SUFFIXES
        rows: list[dict[str, str]] = []
        ignored: list[str] = []
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts):
                if path.is_file():
                    ignored.append(relative.as_posix())
                continue
            if not path.is_file():
                continue
            if path.suffix.lower() not in media or len(relative.parts) < 2:
                ignored.append(relative.as_posix())
                continue
            split, *rest = relative.parts
            species = rest[0] if len(rest) > 1 else ""
            below = PurePosixPath(*rest[1:]) if len(rest) > 1 else PurePosixPath(rest[0])
            if pattern is not None:
                found = pattern.search(below.as_posix())
                subject = (found.group(1) or "") if found else ""
            else:
                subject = below.parts[0] if len(below.parts) > 1 else ""
            rows.append(
                {
                    "path": relative.as_posix(),
                    "split": split,
                    "species": species,
                    "subject": subject,
                }
            )
        if ignored:
            warnings.warn(
                f"{cls.title}: ignoring {len(ignored)} file(s) under {folder} that are not "
                f"images or videos in <split>/<class>/ (or are hidden): {listing(ignored)}",
                DatasetWarning,
                stacklevel=2,
            )
        return pd.DataFrame(rows, columns=["path", "split", "species", "subject"])

    def read_table(self) -> pd.DataFrame:
        """The raw table as text (empty cells ``""``), lower-case columns, plus ``row``.

        ``row`` names each row in messages: ``line N`` of a CSV file (the header is line
        1), ``row N`` of a Parquet file, empty for the folder convention.

        Raises:
            DatasetError: If the file cannot be parsed.
            mtfas.errors.MissingExtraError: For Parquet without ``mtfas[parquet]``.
        """
        path = self.source
        if self.folder is not None:
            raw = self.table_from_folder(path, self.subject_pattern)
            raw["row"] = ""
            return raw
        if path.suffix.lower() in PARQUET_SUFFIXES:
            require("parquet", "pyarrow", "reading a Parquet table")
            try:
                frame = pd.read_parquet(path, engine="pyarrow")
            except (OSError, ValueError) as exc:
                raise DatasetError(f"cannot read the Parquet table {path}: {exc}") from exc
            raw = frame.astype(object).apply(lambda column: column.map(_cell_text))
            numbering = [f"row {i + 1}" for i in range(len(raw))]
        else:
            try:
                raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise DatasetError(
                    f"cannot read the CSV table {path}: {exc}. It needs a header line "
                    "(path,label,subject,split, ...) and comma-separated UTF-8 rows"
                ) from exc
            numbering = [f"line {i + 2}" for i in range(len(raw))]
            blank = (raw == "").all(axis=1)
            raw, numbering = (
                raw[~blank],
                [n for n, b in zip(numbering, blank, strict=True) if not b],
            )
        raw = raw.rename(columns=lambda c: str(c).strip().lower()).reset_index(drop=True)
        raw["row"] = numbering
        return raw

    def rows(self) -> pd.DataFrame:
        """Every usable row, one per image or video, with its split (dev carved if needed).

        Columns: those of :meth:`video_table` plus ``split``, ``face`` (``file``,
        ``box``, ``eyes`` or ``none``) and any extra column of the table. Read once; bad
        rows raise or are skipped (``on_bad_row``).

        Raises:
            DatasetNotFoundError: If the table, folder or root is missing.
            DatasetError: If the table lacks a required column.
            TableRowError: If a row is bad and ``on_bad_row="error"``.
            ConfigError: If the dev split must be carved from fewer than 2 subjects.
        """
        return self._memo().copy()

    def _memo(self) -> pd.DataFrame:
        """:meth:`rows` without the copy (read the table on first use)."""
        if self._rows is None:
            self.check_root()
            rows, bad = self._parse(self.read_table())
            if len(bad) and self.on_bad_row == "error":
                described = [_describe_bad(row) for row in bad.itertuples()]
                raise TableRowError(
                    f"{self.source}: {len(bad)} bad row(s): {listing(described)}. Fix them, or "
                    "pass on_bad_row='skip' (--data.init_args.on_bad_row skip) to leave them "
                    "out (they are counted and reported)."
                )
            self.bad_rows = bad
            self._rows = self._with_splits(rows)
            self._faces = {
                v: (f, p)
                for v, f, p in zip(rows["video"], rows["face"], rows["face_file"], strict=True)
            }
            self._files = dict(zip(rows["video"], rows["file"], strict=True))
            if len(bad):
                print(self.bad_row_summary())
        return self._rows

    def bad_row_summary(self) -> str:
        """One line counting the skipped rows by reason (empty when none was skipped)."""
        if not len(self.bad_rows):
            return ""
        counts = self.bad_rows["reason"].value_counts()
        by_reason = ", ".join(f"{BAD_ROW_REASONS[str(k)]}: {n}" for k, n in counts.items())
        first = _describe_bad(next(self.bad_rows.itertuples()))
        return (
            f"{self.title}: skipped {len(self.bad_rows)} bad row(s) of {self.source} "
            f"(on_bad_row=skip): {by_reason}; first: {first}"
        )

    def _parse(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Check every row: ``(usable rows, bad rows)``."""
        columns = set(raw.columns)
        missing = [c for c in TABLE_COLUMNS if c not in columns]
        if not {"label", "species"} & columns:
            missing.append("label or species")
        if missing:
            raise DatasetError(
                f"{self.source} lacks the column(s) {missing}; it has "
                f"{sorted(columns - {'row'})}. A table needs path, label (0 live / 1 attack) "
                "or species, subject and split (train/dev/test): see mtfas.datamodules.table"
            )
        for group in (BOX_COLUMNS, EYE_COLUMNS):
            present = [c for c in group if c in columns]
            if present and len(present) != len(group):
                raise DatasetError(
                    f"{self.source} has the face column(s) {present} but not "
                    f"{[c for c in group if c not in columns]}: give all of {list(group)}"
                )
        root = os.path.abspath(self.root)
        good: list[dict[str, Any]] = []
        bad: list[dict[str, str]] = []
        seen: dict[str, str] = {}
        media = IMAGE_SUFFIXES | VIDEO_SUFFIXES
        known_species = None if self.species is None else set(self.species)
        for record in raw.to_dict("records"):
            text = {str(k): str(v).strip() for k, v in record.items()}
            row, path_text = text["row"], text["path"]

            def reject(reason: str, detail: str, row: str = row, path: str = path_text) -> None:
                bad.append({"row": row, "path": path, "reason": reason, "detail": detail})

            empty = [c for c in ("path", "subject", "split") if not text[c]]
            if empty or not (text.get("label") or text.get("species")):
                names = empty or ["label or species"]
                reject("missing_value", f"no {' / '.join(names)}")
                continue
            split = text["split"].lower()
            if split not in SPLITS:
                reject("unknown_split", f"split {text['split']!r} is not train, dev or test")
                continue
            label = _label(text.get("label", ""))
            if label is None:
                reject("unknown_label", f"label {text['label']!r} is not 0/1 (or live/attack)")
                continue
            species = text.get("species", "")
            pai = "live" if species.lower() in LIVE_NAMES else species
            if pai and label and (pai == "live") != (label == "live"):
                reject(
                    "label_species_disagree",
                    f"label {text['label']!r} ({label}) but species {species!r}",
                )
                continue
            if not pai:
                pai = "live" if label == "live" else "attack"
            if known_species is not None and pai != "live" and pai not in known_species:
                reject(
                    "unknown_species",
                    f"species {species or pai!r} is not one of {sorted(known_species)}",
                )
                continue
            # os.path rather than pathlib: this loop runs once per row of large tables.
            file = _resolve(path_text, root)
            stem, suffix = os.path.splitext(file)
            if suffix.lower() not in media:
                reject("not_media", f"suffix {suffix!r} is neither an image nor a video")
                continue
            video = stem[len(root) + 1 :].replace(os.sep, "/")
            try:
                if not stem.startswith(root + os.sep):
                    raise ValueError(video)
                check_video_id(video)
            except (ValueError, ConfigError):
                reject(
                    "outside_root",
                    f"{file} is not under root {root} (or has a segment starting with '.'); "
                    "pass a root that holds every file",
                )
                continue
            if not os.path.isfile(file):
                reject("missing_file", f"{file} does not exist")
                continue
            if video in seen:
                reject("duplicate", f"same id {video!r} as {seen[video]}")
                continue
            face = self._face(text, root)
            if isinstance(face, str):
                reject("missing_annotation" if face.startswith("annotation") else "bad_face", face)
                continue
            seen[video] = f"{row} ({path_text})" if row else path_text
            kind, face_file, box = face
            good.append(
                {
                    **{k: v for k, v in text.items() if k not in ("label", "species")},
                    "video": video,
                    "label": "live" if pai == "live" else "attack",
                    "pai": pai,
                    "subject_name": text["subject"],
                    "split": split,
                    "kind": "image" if suffix.lower() in IMAGE_SUFFIXES else "video",
                    "file": file,
                    "face": kind,
                    "face_file": face_file,
                    **dict(zip(BOX_COLUMNS, box, strict=True)),
                }
            )
        table = pd.DataFrame(good)
        if table.empty:
            table = pd.DataFrame(
                columns=[*VIDEO_COLUMNS, "split", "face", "face_file", *BOX_COLUMNS]
            )
        table, crossing = _split_crossing_subjects(table)
        for item in crossing:
            bad.append({**item, "reason": "subject_in_two_splits"})
        table["subject"] = _subject_ids(table["subject_name"])
        bad_table = pd.DataFrame(bad, columns=["row", "path", "reason", "detail"])
        return table.reset_index(drop=True), bad_table

    def _face(self, text: dict[str, str], root: str) -> tuple[str, str, tuple[float, ...]] | str:
        """``(kind, annotation file, box)`` of a row, or why its face columns are unusable."""
        nan = (float("nan"),) * 4
        annotation = text.get(ANNOTATION_COLUMN, "")
        if annotation:
            file = _resolve(annotation, root)
            if not os.path.isfile(file):
                return f"annotation file {file} does not exist"
            return "file", file, nan
        for group, kind in ((BOX_COLUMNS, "box"), (EYE_COLUMNS, "eyes")):
            cells = [text.get(c, "") for c in group]
            if not any(cells):
                continue
            try:
                values = tuple(float(c) for c in cells)
            except ValueError:
                return f"{kind} columns {list(group)} hold {cells}: four numbers are needed"
            if kind == "eyes":
                box = eyes_to_box((values[0], values[1]), (values[2], values[3]))
                if box is None:
                    return f"eye columns {cells}: the two eyes coincide"
                values = box.as_tuple()
            if not Box(values[0], values[1], values[2], values[3]).is_valid:
                return f"{kind} columns {cells} give no box of positive size (x2 > x1, y2 > y1)"
            return kind, "", values
        return "none", "", nan

    def _with_splits(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Carve dev from the training subjects when no row is in dev."""
        if (rows["split"] == "dev").any() or rows.empty:
            return rows
        train = rows["split"] == "train"
        subjects = rows.loc[train, "subject"].unique()
        try:
            dev = draw_dev_subjects(subjects, self.dev_fraction, self.dev_seed)
        except ConfigError as exc:
            raise ConfigError(
                f"{self.source} has no dev rows, so the dev split is carved from the training "
                f"subjects: {exc}. Add dev rows or training subjects"
            ) from exc
        rows = rows.copy()
        rows.loc[train & rows["subject"].isin(dev), "split"] = "dev"
        self.dev_carved = True
        return rows

    # ------------------------------------------------------------ benchmark hooks
    def video_table(self, split: Split) -> pd.DataFrame:
        """The images and videos of ``split``; no file is decoded.

        Columns: ``video`` (path relative to ``root`` without extension), ``label``,
        ``pai``, ``subject`` (int), ``subject_name``, ``kind`` (``image`` / ``video``),
        ``file`` (absolute path), ``row`` (its line in the table), then any extra column
        of the table.

        Raises:
            ProtocolError: If ``split`` is unknown.
        """
        if split not in SPLITS:
            raise ProtocolError(f"split must be one of {list(SPLITS)}, got {split!r}")
        rows = self._memo()
        rows = rows[rows["split"] == split]
        extra = [c for c in rows.columns if c not in VIDEO_COLUMNS and c not in _INTERNAL]
        return rows[[*VIDEO_COLUMNS, *extra]].reset_index(drop=True)

    def video_file(self, video: str) -> Path:
        """The file of ``video`` (with its extension)."""
        self._memo()
        file = self._files.get(video)
        return self.root / video if file is None else Path(file)

    def jobs(self) -> list[VideoJob]:
        """The preprocessing jobs; writes the boxes of the face columns first."""
        self._write_box_files()
        return super().jobs()

    def cache_tag(self) -> str:
        """``table-<annotation format>`` (``+dlib`` with the detector fallback)."""
        return f"table-{self.annotation_format}" + ("+dlib" if self.detector_fallback else "")

    def box_file(self, video: str) -> Path:
        """Where the box of ``video``'s face columns is written (under the cache root)."""
        return self.cache_root / BOX_FOLDER / f"{check_video_id(video)}.box"

    def box_source(self, video: str) -> BoxSource:
        """The row's annotation file or box, with dlib as fallback (``detector_fallback``)."""
        self._memo()
        kind, file = self._faces[video]
        primary: BoxSource | None = None
        if kind == "file":
            path = FixedPath(Path(file))
            if self.annotation_format == "eyes":
                primary = EyePositionFile(annotation_path=path)
            else:
                primary = FaceBoxFile(self.annotation_format, annotation_path=path)
        elif kind in ("box", "eyes"):
            primary = StaticBox(self.box_file(video), f"table-{kind}")
        return RowFaces(primary, self.detector_fallback)

    def prepare_data(self) -> None:
        """Crop every image and video into the cache (see :class:`VideoDataModule`).

        Prints the preprocessing summary, then the count of skipped bad rows if any.
        """
        super().prepare_data()
        if len(self.bad_rows):
            print(self.bad_row_summary())

    def _write_box_files(self) -> None:
        rows = self._memo()
        boxed = rows[rows["face"].isin(["box", "eyes"])]
        for video, *box in zip(boxed["video"], *(boxed[c] for c in BOX_COLUMNS), strict=True):
            path = self.box_file(video)
            text = " ".join(repr(float(v)) for v in box) + "\n"
            try:
                if path.read_text(encoding="utf-8") == text:
                    continue
            except OSError:
                pass
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text, newline="\n")


#: Columns of :meth:`TableDataModule.rows` that the video tables leave out.
_INTERNAL = frozenset({"split", "face", "face_file", *BOX_COLUMNS})


def _check_species(species: Sequence[str]) -> tuple[str, ...]:
    names = [species] if isinstance(species, str) else list(species)
    cleaned = tuple(str(n).strip() for n in names)
    if not cleaned or any(not n or n.lower() in LIVE_NAMES for n in cleaned):
        raise ConfigError(
            f"species lists the attack species (not live), non-empty names; got {list(names)}"
        )
    if len(set(cleaned)) != len(cleaned):
        raise ConfigError(f"species must not repeat a name, got {list(names)}")
    return cleaned


def _cell_text(value: object) -> str:
    """A Parquet cell as text ("" for missing; integral floats without ``.0``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label(text: str) -> str | None:
    """``live`` / ``attack`` from a label cell, ``""`` when empty, None when unknown."""
    value = text.strip().lower()
    if not value:
        return ""
    if value in ("0", "0.0", "live"):
        return "live"
    if value in ("1", "1.0", "attack"):
        return "attack"
    return None


def _resolve(text: str, root: str) -> str:
    """``text`` as an absolute, normalised path (relative to ``root``; ``~`` expanded)."""
    return os.path.normpath(os.path.join(root, os.path.expanduser(text)))


def _describe_bad(row: Any) -> str:
    where = f"{row.row} ({row.path})" if row.row else str(row.path)
    return f"{where}: {row.detail}"


def _split_crossing_subjects(table: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Take out the rows of subjects outside their main split (the one with most rows)."""
    if table.empty:
        return table, []
    counts = table.groupby(["subject_name", "split"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[s for s in SPLITS if s in counts.columns])
    crossing = counts[(counts > 0).sum(axis=1) > 1]
    if crossing.empty:
        return table, []
    main = crossing.idxmax(axis=1)  # ties: the first of train, dev, test
    outside = table["subject_name"].map(main).notna() & (
        table["split"] != table["subject_name"].map(main)
    )
    first = table[~outside].drop_duplicates("subject_name").set_index("subject_name")
    bad = [
        {
            "row": row,
            "path": path,
            "detail": (
                f"subject {subject!r} is in {split} here but in {main[subject]} at "
                f"{first.at[subject, 'row'] or first.at[subject, 'path']!s}; a subject must "
                "be in one split"
            ),
        }
        for row, path, subject, split in zip(
            table.loc[outside, "row"],
            table.loc[outside, "path"],
            table.loc[outside, "subject_name"],
            table.loc[outside, "split"],
            strict=True,
        )
    ]
    return table[~outside], bad


def _subject_ids(names: pd.Series) -> pd.Series:
    """Integer subject ids: the numbers when all are plain integers, else names numbered.

    Plain means one spelling per number (``7``, not ``007``); otherwise the sorted names
    are numbered from 0, so ``007`` and ``7`` stay two subjects.
    """
    text = names.astype(str)
    if text.str.fullmatch(r"-?[1-9]\d*|0").all():  # one spelling per number ("7", not "007")
        return text.astype("int64")
    order = {name: i for i, name in enumerate(sorted(set(text)))}
    return text.map(order).astype("int64")


__all__ = [
    "BAD_ROW_REASONS",
    "BOX_COLUMNS",
    "EYE_COLUMNS",
    "LIVE_NAMES",
    "FixedPath",
    "RowFaces",
    "StaticBox",
    "TableDataModule",
]

"""SiW's layout and protocols as plain data: names, species, protocol rules, dev carving.

Shared by the data module (:mod:`mtfas.datamodules.siw`), which reads a copy, and the
synthetic writer (:mod:`mtfas.synthetic.layouts.siw`), which writes one. No heavy
imports: usable in worker processes.

Layout of the official release (``root`` is the folder that holds it)::

    Train/live/003/003-1-1-1-1.mov     <subject>-<sensor>-<type>-<medium>-<session>
    Train/live/003/003-1-1-1-1.face    one face box per frame: x1 y1 x2 y2
    Train/spoof/003/003-1-3-2-1.mov
    Test/live/153/153-2-1-1-1.m.mov    16 live test videos carry a ``.m`` mark
    Test/live/...  Test/spoof/...

Source of the facts below: Idiap's interface ``bob.db.siw`` 0.0.2 (PyPI), files
``bob/db/siw/common.py`` (``siw_file_metadata``), ``bob/db/siw/driver.py`` (how its
protocol lists are built) and the shipped lists ``bob/db/siw/lists/{train,dev,eval}_files.lst``
(every video of the release, 4469 names) and ``lists/Protocol_*/``.

Name forms (:func:`parse_file_stem`): the five ``-``-separated numbers, then optionally

* ``.m``: the real release holds 16 live test videos of subjects 153, 154, 158 and 161,
  sensor 2, named like ``Test/live/153/153-2-1-1-1.m.mov`` (:data:`MARKED_VIDEOS`); the
  official lists (``eval_files.lst``, ``Protocol_*/eval/for_real.lst``) list them like
  any other live video. The mark is kept in the video id (it is part of the file name)
  and ignored for the fields;
* ``_<anything>``: ``siw_file_metadata`` parses ``stem.split("_")[0]``, so a name with
  an underscore suffix is the video named before the underscore.

Extensions: ``.mov``, or ``.mp4`` (``siw_file_metadata``: "SubjectID ... .mov (or
*.mp4)"). Subjects are 001-165 (``common.py``); the Train and Test subjects are
interleaved (the lists hold 90 Train subjects among 3-165 and 75 Test subjects among
1-161), so the data module reads them from the names.

Species from TypeID and MediumID (:func:`species_of`): TypeID 1 is live (the medium is
ignored; the lists show live MediumIDs 1 and 2, each with sessions 1 and 2), TypeID 2
print with MediumID 1-2 (``print1``, ``print2``), TypeID 3 replay with MediumID 1-4
(``replay1`` .. ``replay4``): exactly the ranges of the lists, numbered from 1 (Idiap
names the species ``print/<medium>`` and ``replay/<medium>``). Which printer quality or
display each MediumID is, is not stated there (the paper lists two print qualities and
four displays); the species names therefore carry only the number. A name with another
medium raises :class:`ProtocolError` in :meth:`SiWName.parse`, which the data module
turns into a counted warning.

The ``.face`` files: ``bob.db.siw`` does not read them (its documentation calls the
shipped ones "not good" and supplies MTCNN annotations of its own), so their format
(``x1 y1 x2 y2`` per line, line n is frame n) is not confirmed by that source; the data
module exposes it as the ``face_layout`` knob. The ``.face`` of a video is the file of the
same stem (``153-2-1-1-1.m.face`` for ``153-2-1-1-1.m.mov``); where a copy names it
otherwise, the detector fallback finds those faces and the preprocessing summary counts
them.

Protocols (Liu et al., CVPR 2018), the rules of :func:`in_protocol`; they reproduce the
video sets of Idiap's ``lists/Protocol_*`` (built by ``driver.py``'s regular
expressions) on the shipped lists:

* P1: train on the first 60 frames of each training video, test on all frames of every
  test video (every type and medium in both).
* P2, sub-protocol k = 1-4: leave one replay medium out. Train on live + replay of the
  three other media, test on live + replay medium k; no print.
* P3, sub-protocol 1: train on live + print, test on live + replay; sub-protocol 2 the
  reverse.

Dev: Idiap's lists carve a fixed dev set of 10 Train subjects (``dev_files.lst``,
:data:`IDIAP_DEV_SUBJECTS`); the data module draws its own by default and can use
Idiap's (``dev_subjects="idiap"``).

>>> SiWName.parse("003-1-3-2-1").pai
'replay2'
>>> parse_file_stem("153-2-1-1-1.m").session
1
>>> in_protocol(2, 2, "test", SiWName.parse("003-1-3-2-1"))
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mtfas.errors import ProtocolError

#: Species names by id; index 0 is live.
SIW_PAI_NAMES: tuple[str, ...] = (
    "live",
    "print1",
    "print2",
    "replay1",
    "replay2",
    "replay3",
    "replay4",
)
#: Folder of each split on disk (dev is carved from Train).
SPLIT_FOLDERS: dict[str, str] = {"train": "Train", "test": "Test"}
#: Folder of each label under a split folder.
LABEL_FOLDERS: dict[str, str] = {"live": "live", "attack": "spoof"}
#: TypeID of live, print and replay presentations.
LIVE, PRINT, REPLAY = 1, 2, 3
TYPES: tuple[int, ...] = (LIVE, PRINT, REPLAY)
#: MediumIDs of each attack type (1-based).
MEDIA: dict[int, tuple[int, ...]] = {PRINT: (1, 2), REPLAY: (1, 2, 3, 4)}
#: Sub-protocols of each protocol (empty: none).
SUBPROTOCOLS: dict[int, tuple[int, ...]] = {1: (), 2: (1, 2, 3, 4), 3: (1, 2)}
#: Subjects of each split in the synthetic release: 90 train, 75 test, as in the real
#: release, whose ids interleave (see the module docstring; the data module reads the ids
#: from the names).
OFFICIAL_SUBJECTS: dict[str, range] = {"train": range(1, 91), "test": range(91, 166)}
SENSORS: tuple[int, ...] = (1, 2)
#: Frames of each training video protocol 1 trains on.
P1_TRAIN_FRAMES = 60

#: MediumIDs of the live videos in the real release (each with sessions 1 and 2).
LIVE_MEDIA: tuple[int, ...] = (1, 2)
#: The mark of the 16 live test videos named ``<name>.m.mov`` in the real release.
MARK = ".m"
#: Those videos: subjects 153, 154, 158 and 161, sensor 2, live MediumID 1-2, session 1-2
#: (``bob.db.siw`` 0.0.2, ``lists/eval_files.lst``).
MARKED_SUBJECTS: tuple[int, ...] = (153, 154, 158, 161)
MARKED_SENSOR = 2
MARKED_VIDEOS: tuple[str, ...] = tuple(
    f"Test/live/{s:03d}/{s:03d}-{MARKED_SENSOR}-1-{m}-{n}{MARK}"
    for s in MARKED_SUBJECTS
    for m in LIVE_MEDIA
    for n in (1, 2)
)
#: The 10 Train subjects of Idiap's dev lists (``bob.db.siw`` 0.0.2, ``lists/dev_files.lst``).
IDIAP_DEV_SUBJECTS: tuple[int, ...] = (3, 6, 7, 11, 14, 16, 17, 22, 28, 30)
#: Video extensions of the release (``.mov``; ``.mp4`` per ``siw_file_metadata``).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mov", ".mp4")

_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$")
_FILE_STEM = re.compile(r"^(\d+-\d+-\d+-\d+-\d+)(\.m)?(_.*)?$")

LAYOUT = """\
  Train/live/<subject>/<subject>-<sensor>-<type>-<medium>-<session>.mov (+ .face boxes)
  Train/spoof/<subject>/...   e.g. Train/spoof/003/003-1-3-2-1.mov (type 2 print, 3 replay)
  Test/live/...  Test/spoof/...   (.mp4 too; names may end in .m or _<suffix>)"""


@dataclass(frozen=True)
class SiWName:
    """The parts of a SiW video name ``<subject>-<sensor>-<type>-<medium>-<session>``.

    Attributes:
        subject: Subject id.
        sensor: Capture sensor id.
        type: 1 live, 2 print, 3 replay.
        medium: Print quality (1-2) or replay display (1-4); ignored for live videos.
        session: Session id.
    """

    subject: int
    sensor: int
    type: int
    medium: int
    session: int

    @classmethod
    def parse(cls, name: str) -> SiWName:
        """Parse a name such as ``003-1-3-2-1`` (no folder, no extension).

        Raises:
            ProtocolError: If the name is not five ``-``-separated numbers, the TypeID is
                not 1-3, or an attack's MediumID is outside :data:`MEDIA`.
        """
        match = _NAME.match(name)
        if match is None:
            raise ProtocolError(
                f"{name!r} is not a SiW video name <subject>-<sensor>-<type>-<medium>-"
                "<session> such as '003-1-3-2-1'"
            )
        parsed = cls(*(int(g) for g in match.groups()))
        if parsed.type not in TYPES:
            raise ProtocolError(
                f"video {name!r} has TypeID {parsed.type}; expected 1 (live), 2 (print) or "
                "3 (replay)"
            )
        if parsed.type != LIVE and parsed.medium not in MEDIA[parsed.type]:
            kind = "print" if parsed.type == PRINT else "replay"
            raise ProtocolError(
                f"video {name!r} is a {kind} attack with MediumID {parsed.medium}; this "
                f"module knows {kind} media {list(MEDIA[parsed.type])}"
            )
        return parsed

    def __str__(self) -> str:
        """The name, subject zero-padded to three digits: ``003-1-3-2-1``."""
        return f"{self.subject:03d}-{self.sensor}-{self.type}-{self.medium}-{self.session}"

    @property
    def label(self) -> str:
        """``"live"`` or ``"attack"`` (from the TypeID)."""
        return "live" if self.type == LIVE else "attack"

    @property
    def pai(self) -> str:
        """Species name (see :func:`species_of`)."""
        return species_of(self.type, self.medium)


def parse_file_stem(stem: str) -> SiWName:
    """Parse a file name without extension in any of the release's forms.

    ``003-1-3-2-1``, ``153-2-1-1-1.m`` (the marked live test videos) and
    ``003-1-3-2-1_<suffix>`` (parsed as the part before the first underscore, as
    ``bob.db.siw``'s ``siw_file_metadata`` does) all give the fields of the five numbers.

    Raises:
        ProtocolError: As :meth:`SiWName.parse` (a malformed name says which forms exist).
    """
    match = _FILE_STEM.match(stem)
    if match is None:
        raise ProtocolError(
            f"{stem!r} is not a SiW video name <subject>-<sensor>-<type>-<medium>-"
            "<session> such as '003-1-3-2-1' (optionally followed by '.m' or "
            "'_<suffix>')"
        )
    return SiWName.parse(match.group(1))


def species_of(type_id: int, medium: int) -> str:
    """Species name of a TypeID and MediumID: live, print1-2 or replay1-4.

    Raises:
        ProtocolError: If the pair is not a known species.
    """
    if type_id == LIVE:
        return "live"
    if type_id in MEDIA and medium in MEDIA[type_id]:
        return f"{'print' if type_id == PRINT else 'replay'}{medium}"
    raise ProtocolError(f"TypeID {type_id} with MediumID {medium} is no SiW species")


def check_protocol(protocol: int, subprotocol: int | None) -> None:
    """Check a protocol number and sub-protocol.

    Raises:
        ProtocolError: Naming the valid values.
    """
    if protocol not in SUBPROTOCOLS:
        raise ProtocolError(f"SiW has protocols 1-3, got protocol={protocol!r}")
    valid = SUBPROTOCOLS[protocol]
    if not valid:
        if subprotocol is not None:
            raise ProtocolError(
                f"SiW protocol 1 has no sub-protocols; leave subprotocol unset (got "
                f"{subprotocol!r})"
            )
    elif subprotocol not in valid:
        meaning = (
            "k leaves replay medium k out"
            if protocol == 2
            else "1 trains on print and tests on replay, 2 the reverse"
        )
        raise ProtocolError(
            f"SiW protocol {protocol} has sub-protocols {valid[0]}-{valid[-1]} ({meaning}): "
            f"pass subprotocol={list(valid)}, got subprotocol={subprotocol!r}. `mtfas folds` "
            "runs them all."
        )


def in_protocol(protocol: int, subprotocol: int | None, split: str, name: SiWName) -> bool:
    """Whether a video belongs to ``split`` (``train``/``dev`` or ``test``) of a protocol.

    ``train`` and ``dev`` follow the training rule (dev is carved from the Train folder),
    ``test`` the test rule. Which folder a video is in is not checked here.
    """
    test = split == "test"
    if name.type == LIVE or protocol == 1:
        return True
    if protocol == 2:
        return name.type == REPLAY and (name.medium == subprotocol) == test
    # Protocol 3: sub-protocol 1 trains on print and tests on replay, 2 the reverse.
    trained = PRINT if subprotocol == 1 else REPLAY
    return (name.type == trained) != test


def siw_videos(
    subjects: Mapping[str, Iterable[int]],
    sensors: Iterable[int] = SENSORS,
    live_sessions: Iterable[int] = (1, 2, 3, 4),
    attack_sessions: Iterable[int] = (1, 2),
    print_media: Iterable[int] = MEDIA[PRINT],
    replay_media: Iterable[int] = MEDIA[REPLAY],
    live_media: Iterable[int] = (1,),
) -> list[tuple[str, SiWName]]:
    """Every video of a release: ``(split folder key, name)``, sorted.

    ``live_media`` are the MediumIDs of the live videos (the real release has 1 and 2,
    each with sessions 1 and 2: pass ``live_media=LIVE_MEDIA, live_sessions=(1, 2)``).
    """
    videos = []
    for split in SPLIT_FOLDERS:
        for subject in subjects[split]:
            for sensor in sensors:
                for medium in live_media:
                    for session in live_sessions:
                        videos.append((split, SiWName(subject, sensor, LIVE, medium, session)))
                for type_id, media in ((PRINT, print_media), (REPLAY, replay_media)):
                    for medium in media:
                        for session in attack_sessions:
                            videos.append(
                                (split, SiWName(subject, sensor, type_id, medium, session))
                            )
    return videos


def video_id(split: str, name: SiWName, decoration: str = "") -> str:
    """Id (path relative to the root, no extension) of a video: ``Train/live/003/003-1-1-1-1``.

    ``decoration`` is appended to the name (``".m"`` or ``"_<suffix>"``, see
    :func:`parse_file_stem`).
    """
    label = LABEL_FOLDERS[name.label]
    return f"{SPLIT_FOLDERS[split]}/{label}/{name.subject:03d}/{name}{decoration}"

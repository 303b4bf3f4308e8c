"""SiW's layout and protocols as plain data: names, species, protocol rules, dev carving.

Shared by the data module (:mod:`mtfas.datamodules.siw`), which reads a copy, and the
synthetic writer (:mod:`mtfas.synthetic.layouts.siw`), which writes one. No heavy
imports: usable in worker processes.

Layout of the official release (``root`` is the folder that holds it)::

    Train/live/003/003-1-1-1-1.mov     <subject>-<sensor>-<type>-<medium>-<session>
    Train/live/003/003-1-1-1-1.face    one face box per frame: x1 y1 x2 y2
    Train/spoof/003/003-1-3-2-1.mov
    Test/live/...  Test/spoof/...

SiW ships no protocol files and no dev split: the video tables come from listing the
folders (sorted), and the protocols are rules on the name's fields.

Species from TypeID and MediumID (:func:`species_of`): TypeID 1 is live (the medium is
ignored), TypeID 2 print with MediumID 1-2 (``print1`` = high, ``print2`` = low quality),
TypeID 3 replay with MediumID 1-4 (``replay1`` .. ``replay4``, the four displays). Which
display or print quality each MediumID is, and whether the real release numbers media
from 1, is unconfirmed; a name with another medium raises :class:`ProtocolError` in
:meth:`SiWName.parse`, which the data module turns into a counted warning.

Protocols (Liu et al., CVPR 2018):

* P1: train on the first 60 frames of each training video, test on all frames of every
  test video (every type and medium in both).
* P2, sub-protocol k = 1-4: leave one replay medium out. Train on live + replay of the
  three other media, test on live + replay medium k; no print.
* P3, sub-protocol 1: train on live + print, test on live + replay; sub-protocol 2 the
  reverse.

>>> SiWName.parse("003-1-3-2-1").pai
'replay2'
>>> in_protocol(2, 2, "test", SiWName.parse("003-1-3-2-1"))
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mtfas.errors import ProtocolError

#: Species names by id; index 0 is live.
SIW_PAI_NAMES: tuple[str, ...] = (
    "live", "print1", "print2", "replay1", "replay2", "replay3", "replay4",
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
#: Subjects of each split in the synthetic release (the real ids are unconfirmed; the
#: data module reads them from the names). 90 train, 75 test.
OFFICIAL_SUBJECTS: dict[str, range] = {"train": range(1, 91), "test": range(91, 166)}
SENSORS: tuple[int, ...] = (1, 2)
#: Frames of each training video protocol 1 trains on.
P1_TRAIN_FRAMES = 60

_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$")

LAYOUT = """\
  Train/live/<subject>/<subject>-<sensor>-<type>-<medium>-<session>.mov (+ .face boxes)
  Train/spoof/<subject>/...   e.g. Train/spoof/003/003-1-3-2-1.mov (type 2 print, 3 replay)
  Test/live/...  Test/spoof/..."""


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
        return (f"{self.subject:03d}-{self.sensor}-{self.type}-{self.medium}-"
                f"{self.session}")

    @property
    def label(self) -> str:
        """``"live"`` or ``"attack"`` (from the TypeID)."""
        return "live" if self.type == LIVE else "attack"

    @property
    def pai(self) -> str:
        """Species name (see :func:`species_of`)."""
        return species_of(self.type, self.medium)


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
        meaning = ("k leaves replay medium k out" if protocol == 2
                   else "1 trains on print and tests on replay, 2 the reverse")
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
    subjects: dict[str, Iterable[int]],
    sensors: Iterable[int] = SENSORS,
    live_sessions: Iterable[int] = (1, 2, 3, 4),
    attack_sessions: Iterable[int] = (1, 2),
    print_media: Iterable[int] = MEDIA[PRINT],
    replay_media: Iterable[int] = MEDIA[REPLAY],
) -> list[tuple[str, SiWName]]:
    """Every video of a release: ``(split folder key, name)``, sorted.

    Live videos have MediumID 1 (unconfirmed for the real release, which the data module
    does not rely on).
    """
    videos = []
    for split in SPLIT_FOLDERS:
        for subject in subjects[split]:
            for sensor in sensors:
                for session in live_sessions:
                    videos.append((split, SiWName(subject, sensor, LIVE, 1, session)))
                for type_id, media in ((PRINT, print_media), (REPLAY, replay_media)):
                    for medium in media:
                        for session in attack_sessions:
                            videos.append(
                                (split, SiWName(subject, sensor, type_id, medium, session))
                            )
    return videos


def video_id(split: str, name: SiWName) -> str:
    """Id (path relative to the root, no extension) of a video: ``Train/live/003/003-1-1-1-1``."""
    label = LABEL_FOLDERS[name.label]
    return f"{SPLIT_FOLDERS[split]}/{label}/{name.subject:03d}/{name}"

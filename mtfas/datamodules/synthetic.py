"""A data module over the procedural synthetic benchmark (no dataset needed).

Every subject is filmed by each chosen capture device in each session, live and with the
four attack species of :data:`mtfas.synthetic.PAI_NAMES` (two printers, two displays).
Subjects are split into train / dev / test (disjoint identities); the meta-validation
slice is then carved from the training subjects like for every benchmark.

>>> dm = SyntheticDataModule(n_subjects=6, frames_per_video=1, image_size=32,
...                          render_size=64, batch_size=4)
>>> dm.video_table("dev").columns.tolist()[:4]
['video', 'label', 'pai', 'subject']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtfas.datamodules.base import FASDataModule, Split
from mtfas.datamodules.dataset import ArrayStore
from mtfas.errors import ConfigError
from mtfas.preprocessing.crop import crop_face
from mtfas.preprocessing.settings import CROP_SCALE
from mtfas.synthetic import PAI_NAMES, render_capture


class SyntheticDataModule(FASDataModule):
    """Synthetic faces with simulated print and replay attacks, in memory.

    Args:
        n_subjects: Number of identities.
        devices: Capture device ids to film with.
        sessions: Session (lighting) ids.
        frames_per_video: Frames rendered per capture.
        render_size: Side of the rendered frames (faces are cropped from them).
        crop_scale: Enlargement of the face box before cropping.
        split_fractions: Fractions of subjects in train / dev / test.
        data_seed: Seed of the renderer and of the subject split.
        **kwargs: :class:`~mtfas.datamodules.FASDataModule` arguments (``image_size``,
            ``batch_size``, ``meta_val_fraction``, ...).
    """

    pai_names = tuple(PAI_NAMES)

    def __init__(
        self,
        n_subjects: int = 40,
        devices: Sequence[int] = (0, 1),
        sessions: Sequence[int] = (0, 1),
        frames_per_video: int = 4,
        render_size: int = 128,
        crop_scale: float = CROP_SCALE,
        split_fractions: Sequence[float] = (0.5, 0.25, 0.25),
        data_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if len(split_fractions) != 3 or abs(sum(split_fractions) - 1.0) > 1e-6:
            raise ConfigError(
                f"split_fractions must be three fractions (train, dev, test) summing to 1, "
                f"got {list(split_fractions)}."
            )
        counts = np.floor(np.asarray(split_fractions) * n_subjects).astype(int)
        counts[0] = n_subjects - counts[1:].sum()
        if (counts < 1).any() or counts[0] < 2:
            raise ConfigError(
                f"n_subjects={n_subjects} is too small for split_fractions "
                f"{list(split_fractions)}: every split needs a subject, train at least two."
            )
        self.n_subjects = n_subjects
        self.devices = list(devices)
        self.sessions = list(sessions)
        self.frames_per_video = frames_per_video
        self.render_size = render_size
        self.crop_scale = crop_scale
        self.data_seed = data_seed
        order = np.random.default_rng(data_seed).permutation(n_subjects)
        bounds = np.cumsum(counts)[:-1]
        self.subjects = dict(zip(("train", "dev", "test"), np.split(order, bounds), strict=True))
        self._store: ArrayStore | None = None

    def video_table(self, split: Split) -> pd.DataFrame:
        """One row per capture of the split's subjects (plus ``device`` and ``session``)."""
        rows = [
            {
                "video": f"s{subject:03d}_d{device}_e{session}_{pai}",
                "label": "live" if pai == "live" else "attack",
                "pai": pai,
                "subject": int(subject),
                "device": device,
                "session": session,
            }
            for subject in sorted(self.subjects[split])
            for device in self.devices
            for session in self.sessions
            for pai in self.pai_names
        ]
        return pd.DataFrame(rows)

    def prepare_data(self) -> None:
        """Nothing to download: frames are rendered in :meth:`frame_store`."""

    def frame_store(self) -> ArrayStore:
        """Render every capture once and keep its face crops in memory."""
        if self._store is None:
            arrays: dict[str, np.ndarray] = {}
            row: Any  # an itertuples row: its fields are this class's video_table columns
            knobs = {
                "n_frames": self.frames_per_video,
                "size": self.render_size,
                "seed": self.data_seed,
            }
            for split in ("train", "dev", "test"):
                for row in self.video_table(split).itertuples():
                    capture = render_capture(
                        row.subject, row.pai, device=row.device, session=row.session, **knobs
                    )
                    arrays[row.video] = np.stack(
                        [
                            crop_face(frame, box, self.image_size, self.crop_scale)
                            for frame, box in zip(capture.frames, capture.boxes, strict=True)
                        ]
                    )
            self._store = ArrayStore(arrays)
        return self._store

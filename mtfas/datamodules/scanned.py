"""Data modules whose videos are listed by scanning the release folders.

CASIA-FASD and MSU-MFSD ship no protocol files: the folders are the listing. Such a
module implements :meth:`ScannedReleaseDataModule._scan` (every video on disk, one row
each, with a warning counting what it skipped); :meth:`~ScannedReleaseDataModule.release_table`
runs it once, after :meth:`~mtfas.datamodules.VideoDataModule.check_root`, and hands out
copies of that memo.
"""

from __future__ import annotations

import abc

import pandas as pd

from mtfas.datamodules.video import VideoDataModule


class ScannedReleaseDataModule(VideoDataModule, abc.ABC):
    """A :class:`~mtfas.datamodules.VideoDataModule` over a scanned release (see above)."""

    _release: pd.DataFrame | None = None

    def release_table(self) -> pd.DataFrame:
        """Every video on disk, before splits and filters (no decoding).

        Raises:
            DatasetNotFoundError: If the root lacks the layout.
        """
        if self._release is None:
            self.check_root()
            self._release = self._scan()
        return self._release.copy()

    @abc.abstractmethod
    def _scan(self) -> pd.DataFrame:
        """Every video on disk (called once, by :meth:`release_table`)."""

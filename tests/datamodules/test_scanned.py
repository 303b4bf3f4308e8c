"""The scanned-release memo shared by the CASIA-FASD and MSU-MFSD data modules."""

from __future__ import annotations

import pandas as pd
import pytest

from mtfas.datamodules.scanned import ScannedReleaseDataModule
from mtfas.errors import DatasetNotFoundError


class _Counting(ScannedReleaseDataModule):
    """Scans a fixed two-row table and counts the scans."""

    benchmark = "counting"
    required_entries = ("videos",)

    def __init__(self, root, **kwargs):
        self.scans = 0
        super().__init__(root, **kwargs)

    def box_source(self, video):  # pragma: no cover - never preprocessed here
        raise NotImplementedError

    def video_table(self, split):
        return self.release_table()

    def _scan(self) -> pd.DataFrame:
        self.scans += 1
        return pd.DataFrame({"video": ["a", "b"], "label": ["live", "attack"]})


def test_release_is_scanned_once_and_handed_out_as_copies(tmp_path):
    (tmp_path / "videos").mkdir()
    dm = _Counting(tmp_path)
    first = dm.release_table()
    first.loc[0, "video"] = "changed"
    second = dm.release_table()
    assert dm.scans == 1
    assert list(second["video"]) == ["a", "b"]


def test_root_is_checked_before_the_scan(tmp_path):
    dm = _Counting(tmp_path)  # no "videos" entry
    with pytest.raises(DatasetNotFoundError, match="videos"):
        dm.release_table()
    assert dm.scans == 0

"""Known-harmless third-party notes are silenced only while a command runs."""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.utilities import rank_zero_info

from mtfas.cli.quiet import quiet_third_party

LEAF = "`isinstance(treespec, LeafSpec)` is deprecated, use ..."


def _emit() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(LEAF, FutureWarning, stacklevel=1)
        warnings.warn("a warning of the user's", UserWarning, stacklevel=1)
    return [str(w.message) for w in caught]


def test_notes_are_silenced_inside_and_back_outside(caplog):
    filters = list(warnings.filters)
    with quiet_third_party(), caplog.at_level(logging.INFO):
        # catch_warnings(record=True) inside resets filters, so check the filter directly.
        assert any(
            f[0] == "ignore" and f[1] is not None and f[1].search(LEAF) for f in warnings.filters
        )
        rank_zero_info("GPU available: False, used: False")
        rank_zero_info("something the user should see")
    assert "GPU available" not in caplog.text and "something the user should see" in caplog.text
    assert warnings.filters == filters  # nothing changed globally
    caplog.clear()
    with caplog.at_level(logging.INFO):
        rank_zero_info("GPU available: False, used: False")
    assert "GPU available" in caplog.text
    assert LEAF in _emit()


def test_other_warnings_still_show_inside():
    with quiet_third_party(), warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("default")
        warnings.warn("a warning of the user's", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning of the user's"]


def test_the_after_optimisation_checkpoint_note_is_silenced_inside_only():
    note = (
        "Using ModelCheckpoint with manual optimization and every_n_train_steps, but no "
        "pre-optimization state was saved."
    )

    def shown() -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.warn(note, UserWarning, stacklevel=1)
        return [str(w.message) for w in caught]

    with quiet_third_party():
        assert any(
            f[0] == "ignore" and f[1] is not None and f[1].search(note) for f in warnings.filters
        )
    assert not any(f[1] is not None and f[1].search(note) for f in warnings.filters)
    assert shown() == [note]

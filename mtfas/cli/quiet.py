"""Known-harmless notes of third-party libraries, silenced while a command runs.

Only for the duration of a command (:func:`quiet_third_party` restores the warning filters
and logging state on exit), never at import, so a user's own ``Trainer`` sees every
warning. Each entry names what it silences and why it is harmless:

* torch's ``FutureWarning`` that ``isinstance(treespec, LeafSpec)`` is deprecated, raised
  when Lightning's ``CombinedLoader`` flattens the loaders (Lightning's code, once per
  loader; nothing a user can change);
* jsonargparse's deprecation notes about the calls LightningCLI makes
  (``add_instantiator``, ``instantiate_classes``, ``skip_none``): Lightning's code;
* Lightning's ``UserWarning`` that a ``ModelCheckpoint`` with ``every_n_train_steps`` under
  manual optimisation "will contain the model state AFTER optimization": that is the state
  a step checkpoint must hold (``step=N`` holds the weights after N steps, which a resume
  continues from; tested in ``tests/test_resume.py``);
* Lightning's info lines that describe the machine rather than the run ("GPU available:
  False, used: False", "TPU available ...", "HPU available ...", "Seed set to 0": the seed
  is in the saved config; "`Trainer.fit` stopped: `max_epochs=5` reached", the end the
  config asked for) and its "Tip: ... litlogger / litmodels" adverts.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_third_party"]

_LEAFSPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
_AFTER_STEP = r"Using ModelCheckpoint with manual optimization and every_n_train_steps"
#: Loggers the info lines come from (``rank_zero_info`` logs to Lightning's rank_zero logger).
_INFO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
)
_INFO_PREFIXES = (
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Seed set to",
    "\N{ELECTRIC LIGHT BULB} Tip: For seamless cloud",
)


class _DropMachineNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().lstrip().startswith(_INFO_PREFIXES)


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Silence the notes listed in this module while the block runs."""
    advert = _DropMachineNotes()
    loggers = [logging.getLogger(name) for name in _INFO_LOGGERS]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LEAFSPEC, category=FutureWarning)
        warnings.filterwarnings("ignore", message=_AFTER_STEP, category=UserWarning)
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"lightning\.pytorch\.cli"
        )
        for logger in loggers:
            logger.addFilter(advert)
        try:
            yield
        finally:
            for logger in loggers:
                logger.removeFilter(advert)

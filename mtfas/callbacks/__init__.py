"""Lightning callbacks: :class:`FASDashboard` (W&B panels or local PNG/CSV files)."""

from mtfas.callbacks.dashboard import FASDashboard

__all__ = ["FASDashboard"]

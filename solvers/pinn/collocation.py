"""Collocation sets redrawn on a schedule, the state a resumed run needs to see the same points.

Set ``index`` is a pure function of (seed, index) (:func:`.sampling.sample_unit`), redrawn every
``sampling.resample_every`` Adam steps (L-BFGS keeps the last); the index is the whole state.
"""

from __future__ import annotations

from typing import Any


class ResampledPoints:
    """Mixin of objectives: ``resample(index)`` draws set ``index``; :meth:`advance` calls it on
    schedule; ``config`` has ``sampling`` and ``train``."""

    config: Any
    points_index: int = -1

    def resample(self, index: int) -> None:
        raise NotImplementedError

    def advance(self, step: int) -> None:
        """Draw the set that step ``step`` trains on, if it is not the current one."""
        every = self.config.sampling.resample_every
        if every and step < self.config.train.adam_steps and step // every != self.points_index:
            self.resample(step // every)

    def state_dict(self) -> dict[str, Any]:
        return {"points_index": self.points_index}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.resample(state["points_index"])

"""The levels of the last few seconds of audio: a room's noise floor and its loudest sound.

Used by the endpointer (is this frame above the room?) and the noise suppressor
(is this room noisy?). The floor is a low percentile, not the minimum: one
quiet frame does not make a quiet room, and speech, which comes and goes,
does not pull a low percentile up.
"""

from __future__ import annotations

from collections import deque

import numpy as np

#: The room's floor: this percentile of the recent levels.
FLOOR_PERCENTILE = 10


class RecentLevels:
    """The levels (in the caller's unit) of the frames of the last ``seconds``."""

    def __init__(self, seconds: float, frame_s: float) -> None:
        self._levels: deque[float] = deque(maxlen=max(1, round(seconds / frame_s)))

    def add(self, level: float) -> None:
        self._levels.append(level)

    @property
    def full(self) -> bool:
        """A whole window heard: long enough to judge the room by."""
        return len(self._levels) == self._levels.maxlen

    def floor(self) -> float:
        return float(np.percentile(self._levels, FLOOR_PERCENTILE))

    def loudest(self) -> float:
        return max(self._levels)

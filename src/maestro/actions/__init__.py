"""Intent -> Player API calls -> :class:`Reply` (speech and a screen), success or failure.

One handler per intent (``do_<Intent>``), grouped by topic; names the matcher resolved
in the library are played by URI, others are looked up with Spotify search.
"""

from __future__ import annotations

from maestro.actions.about import AboutActions
from maestro.actions.base import HELP, describe, failure, say, spoken_list
from maestro.actions.playing import PlayingActions
from maestro.actions.transport import TransportActions
from maestro.actions.volume import VolumeActions


class Actions(TransportActions, VolumeActions, PlayingActions, AboutActions):
    """Every intent's handler (``Actions.handlers``), with the dispatcher ``run``."""


__all__ = ["HELP", "Actions", "describe", "failure", "say", "spoken_list"]

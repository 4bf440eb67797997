"""The box's activity in one word: the most telling of what is under way, told on every change."""

from __future__ import annotations

import pytest

from maestro.box.activity import IDLE, UNDER_WAY, Activity
from maestro.home.discovery import BOX_STATES


def test_the_most_telling_activity_wins_and_each_change_is_told_once() -> None:
    activity = Activity()
    told: list[str] = []
    activity.watchers.append(told.append)
    activity.set("trouble")
    activity.set("listening")
    activity.change(on="thinking", off="listening")  # straight on, no "trouble" between
    activity.set("thinking")  # already so: nothing to tell
    with activity.during("pairing"):
        assert activity.now == "pairing"
    activity.set("thinking", False)
    activity.set("trouble", False)
    assert told == ["trouble", "listening", "thinking", "pairing", "thinking", "trouble", IDLE]


def test_a_broken_watcher_does_not_stop_the_others_and_unknown_activities_are_refused() -> None:
    activity = Activity()
    told: list[str] = []
    activity.watchers += [lambda now: 1 / 0, told.append]  # type: ignore[list-item]
    activity.set("speaking")
    assert told == ["speaking"]
    with pytest.raises(ValueError, match="dancing"):
        activity.set("dancing")


def test_home_assistant_announces_every_activity() -> None:
    assert {*UNDER_WAY, IDLE} == set(BOX_STATES)

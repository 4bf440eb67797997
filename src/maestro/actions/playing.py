"""Playing things: albums, playlists (from a song), artists, songs, liked songs, searches, the queue."""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz

from maestro.actions.base import LIKED_LIMIT, SEARCH_LIMIT, ActionsBase, describe, failure, say
from maestro.actions.checks import Outcome, Wanted
from maestro.intents.library import match_key
from maestro.intents.recognition import NameValue, Recognition
from maestro.messages import Reply, Screen
from maestro.spotify.player import Item
from maestro.spotify.queries import SearchPlan, plan


class PlayingActions(ActionsBase):
    # -- playing things ---------------------------------------------------------------

    async def _find(self, kind: str, value: Any, artist: Any = None) -> Item | None:
        """The item a slot names: its URI when the matcher resolved it, else the best search hit."""
        name = value.name if isinstance(value, NameValue) else str(value)
        artist_name = artist.name if isinstance(artist, NameValue) else (str(artist) if artist else "")
        if isinstance(value, NameValue) and value.uri:
            return Item(kind, value.name, value.uri, artist_name or value.artist)
        query = f"{name} {artist_name}".strip()
        hits = (await self.player.search(query, (kind,), limit=10)).get(kind, [])
        if artist_name and kind in ("track", "album"):
            by_artist = [h for h in hits if fuzz.ratio(match_key(h.artist), match_key(artist_name)) >= 80]
            hits = by_artist or hits
        if not hits:
            return None
        # Best match by name; Spotify's own order breaks ties.
        return max(hits, key=lambda h: (fuzz.ratio(match_key(h.name), match_key(name)), -hits.index(h)))

    async def _play_item(self, r: Recognition, item: Item, doubtful: bool = False) -> Outcome:
        """Play ``item`` where the command says, and read back that it plays (see ``checked``).
        ``doubtful``: what played before is kept, for "no" to put back."""
        device_id = await self._device_for(r)
        if doubtful:
            self.remember_for_undo(await self.player.state())

        async def start() -> None:
            if item.kind == "track":
                await self.player.play(uris=[item.uri], device_id=device_id)
            else:
                await self.player.play(context_uri=item.uri, device_id=device_id)

        return await self.checked(start, Wanted(uri=item.uri, device_id=device_id))

    async def _play_named(self, r: Recognition, kind: str, slot: str, what: str) -> Reply:
        value = r.slots.get(slot)
        item = await self._find(kind, value, r.slots.get("artist") if kind in ("album", "track") else None)
        if item is None:
            spoken = value.name if isinstance(value, NameValue) else str(value)
            return failure(f"I couldn't find the {what} {spoken}.")
        # A name not said as it is (heard unsurely, read by the learned parser, or found by a search
        # rather than in the user's library): say what was chosen.
        said = f" {match_key(r.text)} "
        doubtful = (
            r.score < 1.0
            or r.parser == "learned"
            or not isinstance(value, NameValue)
            or not value.uri
            or (f" {match_key(item.name)} " not in said)
        )
        outcome = await self._play_item(r, item, doubtful)
        values = {
            "artist": item.artist,
            slot: item.name,
        }  # the slot's own name wins ("artist" for PlayArtist)
        default = f"Playing {describe(item)}." if kind != "playlist" else f"Playing the playlist {item.name}."
        speech = self.phrase(r.intent or "", default, **values)
        if doubtful:
            speech = f"I found {describe(item)}; say no to stop."
        elif self._speaker(r):
            speech = f"{speech.rstrip('.')}, on {self._speaker(r)}."
        subtitle = tuple(line for line in (item.artist if kind != "artist" else kind.title(),) if line)
        reply = Reply(speech, Screen("now_playing", item.name, subtitle), data={"uri": item.uri})
        return self.told(outcome, reply, self._speaker(r), item.name)

    async def do_PlayAlbum(self, r: Recognition) -> Reply:
        return await self._play_named(r, "album", "album", "album")

    async def do_PlayPlaylist(self, r: Recognition) -> Reply:
        if "track" not in r.slots:
            return await self._play_named(r, "playlist", "playlist", "playlist")
        # "play creed from my rock playlist": the playlist, from that song on.
        value = r.slots.get("playlist")
        playlist = await self._find("playlist", value)
        if playlist is None:
            spoken = value.name if isinstance(value, NameValue) else str(value)
            return failure(f"I couldn't find the playlist {spoken}.")
        wanted = r.slots["track"]
        wanted_name = wanted.name if isinstance(wanted, NameValue) else str(wanted)
        tracks = await self.player.playlist_tracks(playlist.uri)
        scored = [(fuzz.ratio(match_key(t.name), match_key(wanted_name)), t) for t in tracks]
        best = max(scored, default=None, key=lambda pair: pair[0])
        if best is None or best[0] < 80:
            return failure(f"{wanted_name} isn't on the playlist {playlist.name}.")
        track = best[1]
        device_id = await self._device_for(r)
        outcome = await self.checked(
            lambda: self.player.play(
                context_uri=playlist.uri, offset={"uri": track.uri}, device_id=device_id
            ),
            Wanted(uri=playlist.uri, device_id=device_id),
        )
        speech = f"Playing {playlist.name}, from {describe(track)}."
        reply = Reply(speech, Screen("now_playing", track.name, (track.artist, playlist.name)),
                      data={"uri": playlist.uri})  # fmt: skip
        return self.told(outcome, reply, self._speaker(r), playlist.name)

    async def do_PlayArtist(self, r: Recognition) -> Reply:
        return await self._play_named(r, "artist", "artist", "artist")

    async def do_PlayTrack(self, r: Recognition) -> Reply:
        return await self._play_named(r, "track", "track", "song")

    async def do_PlayLiked(self, r: Recognition) -> Reply:
        tracks = await self.player.saved_tracks()
        if not tracks:
            return failure("You have no liked songs yet.")
        uris = [t.uri for t in tracks[:LIKED_LIMIT]]
        device_id = await self._device_for(r)
        outcome = await self.checked(
            lambda: self.player.play(uris=uris, device_id=device_id),
            Wanted(uris=tuple(uris), device_id=device_id),
        )
        reply = say(self.phrase("PlayLiked", "Playing your liked songs."), "Liked Songs", kind="now_playing")
        return self.told(outcome, reply, self._speaker(r), "your liked songs")

    async def _best_search_hit(self, search: SearchPlan, said: str) -> Item | None:
        hits = await self.player.search(search.query, search.kinds, limit=SEARCH_LIMIT)
        if search.mood and hits.get("playlist"):
            return hits["playlist"][0]  # "some jazz": a jazz playlist, not the album called Jazz
        # A name that matches the words wins, whatever its kind; then the likeliest kind's first.
        scored = [
            (fuzz.ratio(match_key(item.name), match_key(said)), -rank, item)
            for kind in search.kinds
            for rank, item in enumerate(hits.get(kind, []))
        ]
        best = max(scored, default=None, key=lambda s: (s[0], s[1]))
        if best and best[0] >= 80:
            return best[2]
        for kind in search.kinds:
            if hits.get(kind):
                return hits[kind][0]
        return None

    async def do_PlaySearch(self, r: Recognition) -> Reply:
        query = str(r.slots.get("query", ""))
        artist = r.slots.get("artist")
        search = plan(
            query,
            artist=artist.name if isinstance(artist, NameValue) else str(artist or ""),
            year=r.slots.get("year"),
            kind=str(r.slots.get("kind", "")),
        )
        item = await self._best_search_hit(search, query)
        if item is None:
            what = (
                "a podcast called " + query
                if r.slots.get("kind") == "show"
                else "anything for " + (query or search.query)
            )
            return failure(f"I couldn't find {what}.")
        # A name searched for ("play the newest songs by adele"), not a mood ("some jazz"): say what
        # was found, and "no" puts back what played before.
        doubtful = not search.mood
        outcome = await self._play_item(r, item, doubtful)
        speech = f"I found {describe(item)}; say no to stop." if doubtful else f"Playing {describe(item)}."
        reply = Reply(speech, Screen("now_playing", item.name, (item.artist,)), data={"uri": item.uri})
        return self.told(outcome, reply, self._speaker(r), item.name)

    async def do_Queue(self, r: Recognition) -> Reply:
        query = str(r.slots.get("query", ""))
        search = plan(query)
        hits = (await self.player.search(search.query, ("track",), limit=SEARCH_LIMIT)).get("track", [])
        if not hits:
            return failure(f"I couldn't find the song {query}.")
        title = query.split(" by ")[0]
        track = max(
            hits, key=lambda h: (fuzz.partial_ratio(match_key(h.name), match_key(title)), -hits.index(h))
        )
        await self.player.add_to_queue(track.uri)
        speech = f"Added {describe(track)} to the queue."
        return Reply(speech, Screen("message", "Queued", (track.name, track.artist)), data={"uri": track.uri})

    async def do_OtherService(self, r: Recognition) -> Reply:
        return say(self.phrase("OtherService", "I can only play from Spotify."), "Spotify only")

    async def do_UpNext(self, r: Recognition) -> Reply:
        upcoming = (await self.player.queue())[:3]
        if not upcoming:
            return say("Nothing is queued after this song.", "Up next", "Nothing queued")
        spoken = ", then ".join(describe(item) for item in upcoming[:2])
        screen = Screen(
            "message", "Up next", tuple(f"{t.name} · {t.artist}" if t.artist else t.name for t in upcoming)
        )
        return Reply(f"Next up: {spoken}.", screen)

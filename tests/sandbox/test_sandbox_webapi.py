"""Contract tests: the sandbox's Web API paths, shapes and errors."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import DEN_TV, KITCHEN, LIVING_ROOM, bearer, sign_in


def search_uri(client: TestClient, auth: dict, q: str, kind: str) -> str:
    body = client.get("/v1/search", params={"q": q, "type": kind}, headers=auth).json()
    return body[kind + "s"]["items"][0]["uri"]


def play_album(client: TestClient, auth: dict, name: str = "Abbey Road", device: str = LIVING_ROOM) -> str:
    uri = search_uri(client, auth, name, "album")
    response = client.put(f"/v1/me/player/play?device_id={device}", json={"context_uri": uri}, headers=auth)
    assert response.status_code == 204, response.text
    return uri


def state(client: TestClient) -> dict:
    return client.get("/sandbox/state").json()


def test_missing_and_bad_tokens_get_spotify_401(sandbox: TestClient) -> None:
    assert sandbox.get("/v1/me").json() == {"error": {"status": 401, "message": "No token provided"}}
    bad = sandbox.get("/v1/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"]["message"] == "Invalid access token"


def test_me(sandbox: TestClient, auth: dict) -> None:
    me = sandbox.get("/v1/me", headers=auth).json()
    assert me["id"] == "sandbox-user" and me["display_name"] and me["type"] == "user"
    assert "product" not in me and "email" not in me  # Maestro asks for neither scope


def test_account_details_come_with_their_scopes(sandbox: TestClient) -> None:
    scope = "user-read-private user-read-email"
    me = sandbox.get("/v1/me", headers=bearer(sign_in(sandbox, scope=scope))).json()
    assert me["product"] == "premium" and me["country"] and me["email"]


def test_calls_without_their_scope_get_spotify_403(sandbox: TestClient) -> None:
    reader = bearer(sign_in(sandbox, scope="user-read-playback-state"))
    assert sandbox.get("/v1/me/player/devices", headers=reader).status_code == 200
    refused_calls = [
        ("GET", "/v1/me/albums"),
        ("PUT", "/v1/me/player/pause"),
        ("GET", "/v1/me/top/artists"),
        ("PUT", "/v1/me/library?uris=spotify:track:x"),
        ("GET", "/v1/me/following?type=artist"),
        ("GET", "/v1/me/player/queue"),  # asks user-read-currently-playing as well
    ]
    for method, path in refused_calls:
        refused = sandbox.request(method, path, headers=reader)
        assert refused.status_code == 403, (method, path)
        assert refused.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}
    search = sandbox.get("/v1/search", params={"q": "abbey", "type": "album"}, headers=reader)
    assert search.status_code == 200  # the catalog needs no scope


def test_no_playback_is_204_and_commands_need_an_active_device(sandbox: TestClient, auth: dict) -> None:
    assert sandbox.get("/v1/me/player", headers=auth).status_code == 204
    assert sandbox.get("/v1/me/player/currently-playing", headers=auth).status_code == 204
    paused = sandbox.put("/v1/me/player/pause", headers=auth)
    assert paused.status_code == 404
    assert paused.json() == {
        "error": {
            "status": 404,
            "message": "Player command failed: No active device found",
            "reason": "NO_ACTIVE_DEVICE",
        }
    }


def test_devices_shape(sandbox: TestClient, auth: dict) -> None:
    devices = sandbox.get("/v1/me/player/devices", headers=auth).json()["devices"]
    names = [d["name"] for d in devices]
    assert {"Living Room", "Kitchen", "Bedroom"} <= set(names)
    for device in devices:
        assert set(device) == {
            "id",
            "is_active",
            "is_private_session",
            "is_restricted",
            "name",
            "type",
            "volume_percent",
            "supports_volume",
        }


def test_play_context_and_state_shape(sandbox: TestClient, auth: dict) -> None:
    uri = play_album(sandbox, auth)
    body = sandbox.get("/v1/me/player", headers=auth).json()
    assert body["device"]["id"] == LIVING_ROOM and body["device"]["is_active"]
    assert body["context"]["uri"] == uri and body["context"]["type"] == "album"
    assert body["is_playing"] and body["currently_playing_type"] == "track"
    assert body["item"]["name"] == "Come Together"
    assert body["item"]["artists"][0]["name"] == "The Beatles"
    assert body["item"]["album"]["name"] == "Abbey Road"
    assert body["repeat_state"] == "off" and body["shuffle_state"] is False
    current = sandbox.get("/v1/me/player/currently-playing", headers=auth).json()
    assert "device" not in current and current["item"]["uri"] == body["item"]["uri"]


def test_position_moves_with_time_and_context_advances(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    sandbox.post("/sandbox/clock", json={"advance_s": 10})
    assert 10_000 <= state(sandbox)["playback"]["progress_ms"] < 12_000
    # Come Together is 4:19; 4:30 later the second track (Something) plays.
    sandbox.post("/sandbox/clock", json={"advance_s": 260})
    playback = state(sandbox)["playback"]
    assert playback["track_name"] == "Something"
    assert 0 < playback["progress_ms"] < 15_000


def test_context_ends_with_repeat_off_and_wraps_with_repeat_context(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth, "Kind of Blue")  # five long tracks, 45 minutes
    sandbox.post("/sandbox/clock", json={"advance_s": 50 * 60})
    assert state(sandbox)["playback"]["is_playing"] is False
    auth = bearer(sign_in(sandbox))  # the first token has expired meanwhile
    play_album(sandbox, auth, "Kind of Blue")
    sandbox.put("/v1/me/player/repeat?state=context", headers=auth)
    sandbox.post("/sandbox/clock", json={"advance_s": 46 * 60})
    playback = state(sandbox)["playback"]
    assert playback["is_playing"] and playback["track_name"] == "So What"


def test_play_uris_with_offset_and_position(sandbox: TestClient, auth: dict) -> None:
    first = search_uri(sandbox, auth, "Yesterday", "track")
    second = search_uri(sandbox, auth, "Hey Jude", "track")
    response = sandbox.put(
        f"/v1/me/player/play?device_id={KITCHEN}",
        json={"uris": [first, second], "offset": {"uri": second}, "position_ms": 5000},
        headers=auth,
    )
    assert response.status_code == 204
    playback = state(sandbox)["playback"]
    assert playback["track_uri"] == second and playback["device_name"] == "Kitchen"
    assert playback["progress_ms"] >= 5000


def test_bad_play_parameters_are_400(sandbox: TestClient, auth: dict) -> None:
    bad_offset = sandbox.put(
        f"/v1/me/player/play?device_id={KITCHEN}",
        json={"context_uri": search_uri(sandbox, auth, "Revolver", "album"), "offset": {"position": 99}},
        headers=auth,
    )
    assert bad_offset.status_code == 400 and bad_offset.json()["error"]["status"] == 400
    not_json = sandbox.put(f"/v1/me/player/play?device_id={KITCHEN}", content=b"{", headers=auth)
    assert not_json.status_code == 400
    unknown = sandbox.put(
        f"/v1/me/player/play?device_id={KITCHEN}",
        json={"context_uri": "spotify:album:doesnotexist"},
        headers=auth,
    )
    assert unknown.status_code == 400


def test_pause_resume_next_previous_seek(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    assert sandbox.put("/v1/me/player/pause", headers=auth).status_code == 204
    again = sandbox.put("/v1/me/player/pause", headers=auth)
    assert again.status_code == 403 and again.json()["error"]["reason"] == "ALREADY_PAUSED"
    assert sandbox.put("/v1/me/player/play", headers=auth).status_code == 204
    assert state(sandbox)["playback"]["is_playing"]
    assert sandbox.post("/v1/me/player/next", headers=auth).status_code == 204
    assert state(sandbox)["playback"]["track_name"] == "Something"
    assert sandbox.put("/v1/me/player/seek?position_ms=60000", headers=auth).status_code == 204
    assert state(sandbox)["playback"]["progress_ms"] >= 60000
    assert sandbox.post("/v1/me/player/previous", headers=auth).status_code == 204
    playback = state(sandbox)["playback"]
    assert playback["track_name"] == "Something" and playback["progress_ms"] < 2000  # restarted
    sandbox.post("/v1/me/player/previous", headers=auth)
    assert state(sandbox)["playback"]["track_name"] == "Come Together"
    assert sandbox.put("/v1/me/player/seek", headers=auth).status_code == 400


def test_repeat_shuffle_volume(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    assert sandbox.put("/v1/me/player/repeat?state=track", headers=auth).status_code == 204
    assert sandbox.put("/v1/me/player/repeat?state=sometimes", headers=auth).status_code == 400
    assert sandbox.put("/v1/me/player/shuffle?state=true", headers=auth).status_code == 204
    assert sandbox.put("/v1/me/player/shuffle?state=yes", headers=auth).status_code == 400
    assert sandbox.put("/v1/me/player/volume?volume_percent=65", headers=auth).status_code == 204
    assert sandbox.put("/v1/me/player/volume?volume_percent=101", headers=auth).status_code == 400
    playback = state(sandbox)["playback"]
    assert playback["repeat_state"] == "track" and playback["shuffle_state"] is True
    living = next(d for d in state(sandbox)["devices"] if d["id"] == LIVING_ROOM)
    assert living["volume_percent"] == 65


def test_device_without_volume_support_is_403(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth, device=DEN_TV)
    response = sandbox.put("/v1/me/player/volume?volume_percent=30", headers=auth)
    assert response.status_code == 403
    assert response.json()["error"]["reason"] == "VOLUME_CONTROL_DISALLOW"


def test_transfer(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    response = sandbox.put("/v1/me/player", json={"device_ids": [KITCHEN], "play": True}, headers=auth)
    assert response.status_code == 204
    assert state(sandbox)["playback"]["device_name"] == "Kitchen"
    two = sandbox.put("/v1/me/player", json={"device_ids": [KITCHEN, LIVING_ROOM]}, headers=auth)
    assert two.status_code == 400
    unknown = sandbox.put("/v1/me/player", json={"device_ids": ["nope"]}, headers=auth)
    assert unknown.status_code == 404


def test_queue_add_and_get(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    track = search_uri(sandbox, auth, "Billie Jean", "track")
    assert sandbox.post(f"/v1/me/player/queue?uri={track}", headers=auth).status_code == 204
    queue = sandbox.get("/v1/me/player/queue", headers=auth).json()
    assert queue["currently_playing"]["name"] == "Come Together"
    assert queue["queue"][0]["uri"] == track
    sandbox.post("/v1/me/player/next", headers=auth)
    assert state(sandbox)["playback"]["track_uri"] == track
    assert sandbox.post("/v1/me/player/queue?uri=spotify:track:nope", headers=auth).status_code == 400


def test_premium_required_for_free_users(sandbox: TestClient) -> None:
    free = bearer(sign_in(sandbox, user="free-user", product="free"))
    response = sandbox.put(
        f"/v1/me/player/play?device_id={KITCHEN}",
        json={"uris": [search_uri(sandbox, free, "Yesterday", "track")]},
        headers=free,
    )
    assert response.status_code == 403
    assert response.json()["error"]["reason"] == "PREMIUM_REQUIRED"


def test_users_do_not_see_each_other(sandbox: TestClient, auth: dict) -> None:
    other = bearer(sign_in(sandbox, user="someone-else"))
    play_album(sandbox, auth)
    assert sandbox.get("/v1/me/player", headers=other).status_code == 204
    assert sandbox.get("/v1/me", headers=other).json()["id"] == "someone-else"
    snapshot = state(sandbox)
    assert snapshot["users"]["someone-else"]["playback"] is None
    assert snapshot["users"]["sandbox-user"]["playback"]["is_playing"]


def test_search_shapes_limits_and_paging(sandbox: TestClient, auth: dict) -> None:
    body = sandbox.get(
        "/v1/search", params={"q": "the", "type": "track,artist", "limit": 3}, headers=auth
    ).json()
    assert set(body) == {"tracks", "artists"}
    tracks = body["tracks"]
    assert set(tracks) == {"href", "items", "limit", "next", "offset", "previous", "total"}
    assert len(tracks["items"]) == 3 and tracks["total"] > 3 and tracks["next"]
    page2 = sandbox.get(tracks["next"], headers=auth).json()
    assert page2["tracks"]["offset"] == 3 and page2["tracks"]["previous"]
    assert page2["tracks"]["items"][0]["id"] != tracks["items"][0]["id"]
    assert (
        sandbox.get("/v1/search", params={"q": "x", "type": "album", "limit": 50}, headers=auth).status_code
        == 400
    )
    assert sandbox.get("/v1/search", params={"q": "x", "type": "podcast"}, headers=auth).status_code == 400
    assert sandbox.get("/v1/search", params={"type": "album"}, headers=auth).status_code == 400


def test_search_field_filters(sandbox: TestClient, auth: dict) -> None:
    body = sandbox.get(
        "/v1/search", params={"q": 'track:one artist:"U2"', "type": "track"}, headers=auth
    ).json()
    names = {(t["name"], t["artists"][0]["name"]) for t in body["tracks"]["items"]}
    assert names == {("One", "U2")}


def test_library_endpoints_page_through_everything(sandbox: TestClient, auth: dict) -> None:
    def collect(path: str, key: str | None = None) -> list:
        items, url = [], path
        while url:
            body = sandbox.get(url, headers=auth).json()
            page = body[key] if key else body
            items += page["items"]
            url = page["next"]
        return items

    playlists = collect("/v1/me/playlists?limit=4")
    assert len(playlists) >= 10 and {"Discover Weekly", "Dinner Jazz"} <= {p["name"] for p in playlists}
    albums = collect("/v1/me/albums?limit=50")
    assert len(albums) >= 40 and "added_at" in albums[0] and albums[0]["album"]["tracks"]["items"]
    tracks = collect("/v1/me/tracks?limit=50")
    assert len(tracks) >= 100 and tracks[0]["track"]["type"] == "track"
    artists = collect("/v1/me/following?type=artist&limit=7", key="artists")
    assert len(artists) >= 15 and len({a["id"] for a in artists}) == len(artists)
    assert sandbox.get("/v1/me/playlists?limit=0", headers=auth).status_code == 400


def test_save_tracks_both_ways(sandbox: TestClient, auth: dict) -> None:
    uri = search_uri(sandbox, auth, "Bad Guy", "track")
    track_id = uri.rsplit(":", 1)[1]
    assert sandbox.get(f"/v1/me/tracks/contains?ids={track_id}", headers=auth).json() == [False]
    assert sandbox.put(f"/v1/me/tracks?ids={track_id}", headers=auth).status_code == 200
    assert sandbox.get(f"/v1/me/tracks/contains?ids={track_id}", headers=auth).json() == [True]
    assert state(sandbox)["saved_tracks"][0] == uri
    other = search_uri(sandbox, auth, "Royals", "track")
    assert sandbox.put("/v1/me/library", json={"uris": [other]}, headers=auth).status_code == 200
    assert state(sandbox)["saved_tracks"][0] == other
    assert sandbox.put("/v1/me/tracks?ids=nope", headers=auth).status_code == 400


def test_catalogue_size() -> None:
    from maestro.sandbox.catalog import Catalog

    catalog = Catalog.default()
    assert len(catalog.albums) >= 40
    assert len(catalog.artists) >= 15
    assert len(catalog.playlists) >= 10
    assert len(catalog.tracks) >= 300
    assert all(t.duration_ms > 10_000 for t in catalog.tracks.values())


def test_idle_devices_go_inactive(sandbox: TestClient, auth: dict) -> None:
    play_album(sandbox, auth)
    sandbox.put("/v1/me/player/pause", headers=auth)
    sandbox.post("/sandbox/clock", json={"advance_s": 20 * 60})
    assert sandbox.get("/v1/me/player", headers=auth).status_code == 204
    assert sandbox.put("/v1/me/player/play", headers=auth).json()["error"]["reason"] == "NO_ACTIVE_DEVICE"


def test_get_items(sandbox: TestClient, auth: dict) -> None:
    uri = search_uri(sandbox, auth, "Rumours", "album")
    album = sandbox.get(f"/v1/albums/{uri.rsplit(':', 1)[1]}", headers=auth).json()
    assert album["name"] == "Rumours" and album["tracks"]["items"][1]["name"] == "Dreams"
    assert sandbox.get("/v1/albums/nope", headers=auth).status_code == 404

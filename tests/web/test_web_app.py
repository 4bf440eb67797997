"""The box's web app and JSON API, served by the running box against the sandbox: nothing answers
without pairing or a token; a browser pairs with the code the box shows and says; forms need their
CSRF token; commands take the box's own path; events stream."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from starlette.routing import Route

from maestro.web.access import Access
from maestro.web.app import Box, create_app
from maestro.web.guard import CSRF_HEADER
from tests.live import LiveSandbox
from tests.web.box import web_box

#: Sample values for the routes' path parameters.
PATH_SAMPLES = {
    "button": "next",
    "index": "0",
    "entry": "1",
    "uid": "04A1B2C3",
    "alias": "the telly",
    "kind": "album",
}
#: The only routes that answer a browser not yet paired.
OPEN_ROUTES = ("/pair", "/pair/code", "/static")


def guarded_routes() -> list[tuple[str, str]]:
    """Every route of the app but the pairing page's and the static files, with sample parameters."""
    app = create_app(cast(Box, None), cast(Access, None))
    routes = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if not isinstance(route, Route) or path in OPEN_ROUTES:
            continue
        filled = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_SAMPLES[m.group(1)], path)
        routes += [(method, filled) for method in sorted(route.methods or ()) if method != "HEAD"]
    return routes


def said_code(said: list[str]) -> str:
    return re.sub(r"\D", "", next(line for line in reversed(said) if "code for your browser" in line))


async def paired(http: httpx.AsyncClient, said: list[str]) -> str:
    """Pairs ``http`` as a browser would, with the code the box said; returns the page's CSRF token."""
    await http.post("/pair/code")
    answer = await http.post("/pair", data={"code": said_code(said)})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    return csrf_of((await http.get("/")).text)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


async def test_nothing_answers_without_pairing_or_a_token(live: LiveSandbox, tmp_path: Path) -> None:
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url) as http:
        routes = guarded_routes()
        assert len(routes) >= 30 and ("GET", "/spotify/pairing.svg") in routes
        for method, path in routes:
            answer = await http.request(
                method, path, json={"text": "pause"} if path == "/api/command" else None
            )
            if path.startswith("/api/") or path.endswith((".svg", ".wav")):
                assert answer.status_code == 401, path
            else:
                assert (answer.status_code, answer.headers.get("location")) == (303, "/pair"), path
            assert "default-src 'none'" in answer.headers["content-security-policy"]
        bad = await http.get("/api/state", headers={"Authorization": "Bearer mst_guess"})
        assert bad.status_code == 401
        assert (await http.get("/pair")).status_code == 200
        assert (await http.get("/static/web.css")).status_code == 200
    assert not box.replies  # nothing above reached the box
    assert not box.session.personal.path.exists()  # nor taught it anything


async def test_every_change_needs_the_pages_csrf_token(live: LiveSandbox, tmp_path: Path) -> None:
    """A paired browser's cookie alone changes nothing: every form and every API change of the app
    is refused without the page's token (or from another origin with it)."""
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url) as http:
        csrf = await paired(http, box.speaker.history)  # type: ignore[attr-defined]
        changes = [(method, path) for method, path in guarded_routes() if method != "GET"]
        assert len(changes) >= 15
        for method, path in changes:
            bare = await http.request(method, path, data={"text": "pause"} if method == "POST" else None)
            assert bare.status_code == 403, (method, path)
            elsewhere = await http.request(method, path, data={"csrf": csrf}, headers={"Origin": "http://evil.test",
                                           CSRF_HEADER: csrf})  # fmt: skip
            assert elsewhere.status_code == 403, (method, path)
    assert not box.replies and not box.session.personal.path.exists()
    assert (tmp_path / "tokens.json").exists()  # not signed out of Spotify either


async def test_a_browser_pairs_with_the_spoken_code_and_its_forms_need_their_token(
    live: LiveSandbox, tmp_path: Path
) -> None:
    lines: list[str] = []
    async with web_box(live, tmp_path, print_line=lines.append) as (box, url):
        said = box.speaker.history  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.post("/pair", data={"code": "123456"})).status_code == 403  # none asked for
            assert (await http.post("/pair/code")).status_code == 303
            code = said_code(said)
            assert f"Web code: {code}" in lines  # shown and printed as well as said
            assert (await http.post("/pair/code")).status_code == 429  # the one on the screen still counts
            wrong = "0" + code[1:] if code[0] != "0" else "1" + code[1:]
            answer = await http.post("/pair", data={"code": wrong})
            assert answer.status_code == 403 and "not the code" in answer.text
            answer = await http.post("/pair", data={"code": f"{code[:3]} {code[3:]}"})
            assert answer.status_code == 303 and "httponly" in answer.headers["set-cookie"].lower()
            assert "samesite=strict" in answer.headers["set-cookie"].lower()
            page = await http.get("/")
            assert page.status_code == 200 and "Now playing" in page.text
            csrf = csrf_of(page.text)

            assert (await http.post("/press/next")).status_code == 403  # no CSRF token
            elsewhere = await http.post(
                "/press/next", data={"csrf": csrf}, headers={"Origin": "http://evil.test"}
            )
            assert elsewhere.status_code == 403
            assert (await http.post("/api/command", json={"text": "next"})).status_code == 403
            assert not box.replies  # none of those reached the box
            before = live.snapshot()["playback"]["item_uri"] if live.snapshot()["playback"] else None
            pressed = await http.post("/press/next", data={"csrf": csrf})
            assert pressed.status_code == 303
            assert [(source, reply.intent) for source, reply in box.replies] == [("web", "Next")]
            sent = await http.post("/command", data={"csrf": csrf, "text": "play abbey road"})
            assert sent.status_code == 303 and sent.headers["location"] == "/heard"
            heard = await http.get("/heard")
            assert (
                "play abbey road" in heard.text and "PlayAlbum" in heard.text and "Abbey Road" in heard.text
            )
            volume = next(d["volume_percent"] for d in live.snapshot()["devices"] if d["is_active"])
            assert 'aria-label="Volume up"' in (await http.get("/")).text
            await http.post("/press/volume_up", data={"csrf": csrf})
            louder = next(d["volume_percent"] for d in live.snapshot()["devices"] if d["is_active"])
            assert louder > volume and box.replies[-1][1].intent == "VolumeUp"
            await http.post("/press/volume_down", data={"csrf": csrf})
            assert box.replies[-1][1].intent == "VolumeDown"
            assert (await http.post("/press/eject", data={"csrf": csrf})).status_code == 404
            signed_out = await http.post("/sign-out", data={"csrf": csrf})
            assert signed_out.status_code == 303
            assert (await http.get("/")).headers["location"] == "/pair"
    assert before is None or before != live.snapshot()["playback"]["item_uri"]
    assert live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert not any("Abbey Road" in line for line in said)  # shown, not spoken


async def test_the_api_with_a_token_runs_commands_and_streams_events(
    live: LiveSandbox, tmp_path: Path
) -> None:
    token = Access(tmp_path).new_token("test")  # `maestro web token`
    headers = {"Authorization": f"Bearer {token}"}
    async with web_box(live, tmp_path) as (box, url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
            assert (await http.post("/api/command", content=b"play")).status_code == 400
            assert (await http.post("/api/command", json={"text": ""})).status_code == 400
            huge = await http.post("/api/command", content=b'{"text": "' + b"x" * 100_000 + b'"}')
            assert huge.status_code == 413  # cut off before anything reads it
            events: list[tuple[str, dict]] = []

            async def listen() -> None:
                async with http.stream("GET", "/api/events") as stream:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    event = ""
                    async for line in stream.aiter_lines():
                        if line.startswith("event: "):
                            event = line.removeprefix("event: ")
                        elif line.startswith("data: "):
                            events.append((event, json.loads(line.removeprefix("data: "))))

            listening = asyncio.create_task(listen())
            async with asyncio.timeout(5):
                while not events:
                    await asyncio.sleep(0.01)
            assert events[0][0] == "state"  # the whole state first
            answer = await http.post("/api/command", json={"text": "play abbey road"})
            assert answer.status_code == 200 and answer.json()["intent"] == "PlayAlbum"
            async with asyncio.timeout(5):
                while not any(
                    e == "state" and (d["playing"] or {}).get("album") == "Abbey Road" for e, d in events
                ):
                    await asyncio.sleep(0.01)
            listening.cancel()
            history = (await http.get("/api/history")).json()["commands"]
            state = (await http.get("/api/state")).json()
        assert (await httpx.AsyncClient(base_url=url).get("/api/state")).status_code == 401
    heard = [d for e, d in events if e == "heard"]
    assert heard[0]["heard"] == "play abbey road" and heard[0]["source"] == "web"
    assert heard[0]["slots"]["album"]["name"] == "Abbey Road"
    assert history[0]["intent"] == "PlayAlbum" and history[0]["reply"].startswith("Playing Abbey Road")
    assert state["playing"]["title"] == "Come Together" and state["playing"]["speaker"] == "Kitchen"
    assert state["last_command"]["heard"] == "play abbey road"
    assert box.session.settings.web.enabled


async def until(ask: Callable[[], Awaitable[dict[str, Any]]], ready: Callable[[dict[str, Any]], Any]) -> dict:
    """What ``ask`` answers once ``ready`` says so (10 s at most)."""
    async with asyncio.timeout(10):
        while not ready(answer := await ask()):
            await asyncio.sleep(0.05)
    return answer


async def test_the_box_signs_in_to_spotify_from_the_page_and_out_again(
    live: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live.state, "poll_interval", 1)  # the box asks every second whether it is approved
    unsigned = web_box(live, tmp_path, signed_in=False)
    async with unsigned as (box, url), httpx.AsyncClient(base_url=url) as http:
        csrf = await paired(http, box.speaker.history)  # type: ignore[attr-defined]

        async def account() -> dict[str, Any]:
            return (await http.get("/api/account")).json()

        pairing = (await until(account, lambda answer: answer["pairing"]))["pairing"]
        code = pairing["code"]
        assert pairing["link"] == f"{live.url}/pair?code={code}" and pairing["address"].endswith("/pair")
        page = (await http.get("/")).text
        assert code in page and "Sign the box in to Spotify" in page
        qr = await http.get(f"/spotify/pairing.svg?code={code}")
        assert qr.headers["content-type"] == "image/svg+xml" and qr.text.startswith("<svg")
        assert (await httpx.AsyncClient(base_url=url).get("/spotify/pairing.svg")).status_code == 401

        async with httpx.AsyncClient() as phone:  # the link, opened on a phone: Spotify's page, then Connect
            assert code in (await phone.get(pairing["link"])).text
            approved = await phone.post(f"{live.url}/pair", data={"code": code, "decision": "approve"})
            assert "Device connected" in approved.text
        signed_in = await until(account, lambda answer: answer["signed_in_as"])
        assert signed_in == {"signed_in_as": "Sandbox User", "pairing": None}
        assert "Signed in to Spotify as <strong" in (await http.get("/settings")).text
        assert (await http.get("/spotify/pairing.svg")).status_code == 404  # no code now
        assert (tmp_path / "tokens.json").exists()

        assert (await http.delete("/api/account")).status_code == 403  # no CSRF token
        assert (await http.post("/spotify/sign-out")).status_code == 403
        assert (tmp_path / "tokens.json").exists()
        gone = await http.delete("/api/account", headers={CSRF_HEADER: csrf})
        assert gone.status_code == 200 and gone.json()["signed_out"] is True
        assert not (tmp_path / "tokens.json").exists() and not (tmp_path / "library.json").exists()
        again = await until(account, lambda answer: answer["pairing"])
        assert again["signed_in_as"] is None and again["pairing"]["code"] != code  # pairing anew
        assert [e.heard for e in box.web.box.live.history] == ["sign out of Spotify"]  # type: ignore[union-attr]
        said = box.speaker.history  # type: ignore[attr-defined]
        assert not any(again["pairing"]["code"] in line for line in said)  # said letter by letter
        assert any("enter:" in line for line in said)


async def test_the_pages_say_what_is_wrong_while_it_is(live: LiveSandbox, tmp_path: Path) -> None:
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url) as http:
        await paired(http, box.speaker.history)  # type: ignore[attr-defined]

        async def state() -> dict[str, Any]:
            return (await http.get("/api/state")).json()

        assert (await state())["troubles"] == [] and 'class="troubles"' in (await http.get("/")).text
        live.control("faults", {"path": "/v1/me/player", "status": 503, "count": 15})
        troubled = await until(state, lambda answer: answer["troubles"])
        assert "Spotify" in troubled["troubles"][0] and troubled["activity"] == "trouble"
        assert "answering properly right now" in (await http.get("/settings")).text  # on every page
        assert (await until(state, lambda answer: not answer["troubles"]))["troubles"] == []  # back


async def test_a_port_in_use_is_said_and_the_rest_runs(live: LiveSandbox, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lines: list[str] = []
        with pytest.raises(TimeoutError):  # the web app never listens
            async with web_box(live, tmp_path, {"MAESTRO_WEB_LISTEN": f"127.0.0.1:{port}"},
                               print_line=lines.append):  # fmt: skip
                pass
    assert any("The web app is off: 127.0.0.1:" in line for line in lines)


async def test_a_correction_through_the_api_is_understood_from_then_on(
    live: LiveSandbox, tmp_path: Path
) -> None:
    token = Access(tmp_path).new_token("test")
    bearer = {"Authorization": f"Bearer {token}"}
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url, headers=bearer) as http:
        assert (await http.post("/api/command", json={"text": "stick on abbey road"})).status_code == 422
        taught = await http.post("/api/corrections", json={"heard": "stick on abbey road",
                                                            "meant": "play abbey road"})  # fmt: skip
        assert taught.status_code == 200, taught.text
        assert taught.json()["phrasing"]["template"] == "stick on {known_album:album}"
        assert taught.json()["now"]["intent"] == "PlayAlbum"
        other = await http.post("/api/command", json={"text": "stick on kind of blue"})
        assert other.status_code == 200 and other.json()["intent"] == "PlayAlbum"
        listed = (await http.get("/api/corrections")).json()["phrasings"]
        assert [p["heard"] for p in listed] == ["stick on abbey road"]
        nameless = await http.post(
            "/api/corrections", json={"heard": "put that on", "meant": "play abbey road"}
        )
        assert nameless.status_code == 422 and "couldn't find" in nameless.json()["error"]
        assert (await http.post("/api/corrections", json={"heard": "x"})).status_code == 400
        assert (await http.delete("/api/corrections/5")).status_code == 404
        assert (await http.delete("/api/corrections/0")).status_code == 200
        assert (await http.post("/api/command", json={"text": "stick on abbey road"})).status_code == 422
        assert (await httpx.AsyncClient(base_url=url).get("/api/corrections")).status_code == 401
    assert live.snapshot()["playback"]["album_name"] == "Kind of Blue"
    assert box.session.personal.phrasings == []


async def test_what_was_meant_chosen_from_lists_is_learned(live: LiveSandbox, tmp_path: Path) -> None:
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url) as http:
        csrf = await paired(http, box.speaker.history)  # type: ignore[attr-defined]
        await http.post("/command", data={"csrf": csrf, "text": "stick on abbey road"})
        entry = box.web.box.live.history[-1]  # type: ignore[union-attr]
        assert entry.intent != "PlayAlbum"
        assert f'href="/correct/{entry.id}"' in (await http.get("/heard")).text
        listing = (await http.get(f"/correct/{entry.id}")).text
        assert "Play album — “play album …”" in listing and 'name="slot.album"' not in listing
        chosen = (await http.get(f"/correct/{entry.id}?intent=PlayAlbum")).text
        assert 'name="slot.album"' in chosen and 'list="names-album"' in chosen
        assert '<option value="Abbey Road">' in chosen  # the library's names, offered
        found = (await http.get("/api/names/album", params={"q": "abby"})).json()["names"]
        assert found[0] == "Abbey Road"
        assert (await http.get("/api/names/planet")).status_code == 404
        intents = (await http.get("/api/intents")).json()["intents"]
        assert {"intent": "SetVolume", "label": "Set volume"}.items() <= intents[9].items()

        form = {"csrf": csrf, "heard": entry.heard, "intent": "PlayAlbum", "entry": str(entry.id)}
        wrong = await http.post("/correct", data={**form, "slot.album": "dish symphony"})
        assert wrong.status_code == 422 and "couldn’t find" not in wrong.text
        assert "find the album “dish symphony” in your library" in wrong.text
        assert 'value="dish symphony"' in wrong.text  # what was typed stays, to be put right
        near = await http.post("/correct", data={**form, "slot.album": "abbey rd"})
        assert near.status_code == 422 and "Did you mean “Abbey Road”?" in near.text
        learned = await http.post("/correct", data={**form, "slot.album": "abby road", "slot.device": ""})
        assert learned.status_code == 200 and "now means PlayAlbum" in learned.text
        again = await http.post("/api/command", json={"text": "stick on kind of blue"},
                                headers={CSRF_HEADER: csrf})  # fmt: skip
        assert again.json()["intent"] == "PlayAlbum"

        by_api = await http.post("/api/corrections", headers={CSRF_HEADER: csrf}, json={
            "heard": "crank it to eleven", "intent": "SetVolume", "slots": {"volume": "11"}})  # fmt: skip
        assert by_api.status_code == 200 and by_api.json()["phrasing"]["template"] == "crank it to {volume}"
        loud = {"heard": "x", "intent": "SetVolume", "slots": {"volume": "loud"}}
        bad = await http.post("/api/corrections", headers={CSRF_HEADER: csrf}, json=loud)
        assert bad.status_code == 422 and "number from 0 to 100" in bad.json()["error"]
    assert box.session.matcher.match("crank it to forty").slots == {"volume": 40}
    assert live.snapshot()["playback"]["album_name"] == "Kind of Blue"


async def test_a_card_assigned_on_the_page_plays_at_the_next_tap(live: LiveSandbox, tmp_path: Path) -> None:
    from maestro.nfc.cards import Cards
    from maestro.nfc.readers import ScriptedReader
    from maestro.nfc.tags import TagStore

    reader = ScriptedReader(["wait 0.5", "tap 04A1B2C3", "wait 0.2", "remove", "wait 4", "tap 04A1B2C3",
                             "wait 0.2", "remove"])  # fmt: skip
    cards = Cards(TagStore(tmp_path / "tags.yaml", in_use=True), window_s=1.0)  # no "second tap" then
    async with web_box(live, tmp_path, reader=reader, cards=cards) as (box, url):
        said = box.speaker.history  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=url) as http:
            csrf = await paired(http, said)
            async with asyncio.timeout(5):
                while "does not know was tapped: <code>04A1B2C3" not in (await http.get("/cards")).text:
                    await asyncio.sleep(0.05)
            bad = await http.post(
                "/cards", data={"csrf": csrf, "uid": "04A1B2C3", "what": "make me a sandwich"}
            )
            assert bad.status_code == 422 and "not a command Maestro understands" in bad.text
            assigned = await http.post("/cards", data={"csrf": csrf, "uid": "04A1B2C3", "what": "abbey road"})
            assert assigned.status_code == 200 and "now plays Abbey Road (album)" in assigned.text
            async with asyncio.timeout(8):
                while [r.intent for s, r in box.replies if s == "card"] != [None, "PlayCard"]:
                    await asyncio.sleep(0.05)
            listed = (await http.get("/api/cards", headers={"X-CSRF-Token": csrf})).json()
            removed = await http.post("/cards/04A1B2C3/remove", data={"csrf": csrf})
            assert removed.status_code == 303
    assert live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert listed["cards"] == [{"uid": "04A1B2C3", "action": "spotify:album:p20IVD9KD4N2EBDzU5oRJd",
                                "name": "Abbey Road (album)"}]  # fmt: skip
    assert "04A1B2C3" not in (tmp_path / "tags.yaml").read_text()


async def test_a_card_gets_what_a_search_found_in_the_library_or_on_spotify(
    live: LiveSandbox, tmp_path: Path
) -> None:
    async with web_box(live, tmp_path) as (box, url), httpx.AsyncClient(base_url=url) as http:
        csrf = await paired(http, box.speaker.history)  # type: ignore[attr-defined]
        page = await http.get("/cards/find", params={"uid": "04A1B2C3", "q": "ziggy stardust"})
        assert page.status_code == 200 and "for card 04A1B2C3" in page.text
        ziggy = "spotify:album:wg89QH14vTcfeM6Ky0YNDQ"  # not saved in the sandbox user's library
        assert "The Rise and Fall of Ziggy Stardust" in page.text and f'value="{ziggy}"' in page.text
        assert "Spotify</span>" in page.text
        found = (await http.get("/api/cards/find", params={"q": "abbey road"})).json()
        assert found["problem"] is None
        abbey = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"
        assert found["found"][0] == {"name": "Abbey Road", "kind": "album", "uri": abbey,
                                     "artist": "The Beatles", "source": "library"}  # fmt: skip
        assert (await http.get("/api/cards/find")).status_code == 400

        await http.get("/cards/find", params={"uid": "04A1B2C3", "q": "ziggy stardust"})  # the page, again
        put = await http.post("/cards", data={"csrf": csrf, "uid": "04A1B2C3", "what": ziggy})
        assert put.status_code == 200 and "now plays The Rise and Fall of Ziggy Stardust (album)" in put.text
        cards = (await http.get("/api/cards")).json()["cards"]
        assert cards == [
            {"uid": "04A1B2C3", "action": ziggy, "name": "The Rise and Fall of Ziggy Stardust (album)"}
        ]

        live.control("faults", {"path": "/v1/search", "status": 503, "count": 5})
        offline = await http.get("/cards/find", params={"uid": "04A1B2C3", "q": "abbey road"})
        assert (
            "Spotify could not be searched" in offline.text and "Abbey Road" in offline.text
        )  # the library's still
    assert (tmp_path / "tags.yaml").read_text().count(ziggy) == 1


async def test_settings_are_checked_written_and_in_effect(live: LiveSandbox, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("# my box\n[player]\n# the kids' room\nmax_volume = 100\n")
    token = Access(tmp_path).new_token("test")
    async with web_box(live, tmp_path) as (box, url):
        said = box.speaker.history  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=url) as http:
            csrf = await paired(http, said)
            page = await http.get("/settings")
            assert page.status_code == 200 and 'value="30"' in page.text  # voice.duck_volume's default
            assert re.search(r"Signed in to Spotify as <strong[^>]*>Sandbox User</strong>", page.text)
            bad = await http.post("/settings", data={"csrf": csrf, "voice.duck_volume": "150"})
            assert bad.status_code == 422 and "(voice.duck_volume): must be from 0 to 100" in bad.text
            saved = await http.post("/settings", data={
                "csrf": csrf, "voice.duck_volume": "20", "player.max_volume": "60",
                "player.default_device": "Living Room", "voice.engine": "whisper",
            })  # fmt: skip
            assert saved.status_code == 200
            assert "In effect now: Default speaker, Loudest volume, Music while listening (%)." in saved.text
            assert "After Maestro restarts: Recogniser" in saved.text
        api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
        async with api:
            patched = await api.patch("/api/settings", json={"tts.rate": 180})
            assert patched.status_code == 200 and patched.json()["changed"] == ["tts.rate"]
            assert (await api.patch("/api/settings", json={"player.poll_s": 1})).status_code == 422
            loud = await api.post("/api/command", json={"text": "set the volume to 90"})
        assert box.ducker.percent == 20 and box.session.player.preferred_device == "Living Room"
    text = (tmp_path / "config.toml").read_text()
    assert "# the kids' room" in text and "max_volume = 60" in text and 'engine = "whisper"' in text
    assert "rate = 180" in text
    assert loud.json()["speech"].startswith("Volume 60: the most this box allows")  # at once
    living_room = next(d for d in live.snapshot()["devices"] if d["name"] == "Living Room")
    assert living_room["volume_percent"] == 60  # the new default speaker, at the new maximum


async def test_a_speaker_called_by_another_name(live: LiveSandbox, tmp_path: Path) -> None:
    token = Access(tmp_path).new_token("test")
    async with web_box(live, tmp_path) as (box, url):
        said = box.speaker.history  # type: ignore[attr-defined]
        await box.session.ensure_library()
        async with httpx.AsyncClient(base_url=url) as http:
            csrf = await paired(http, said)
            page = await http.get("/speakers")
            assert page.status_code == 200 and "Den TV" in page.text
            form = {"csrf": csrf, "speaker": "Den TV"}
            taken = await http.post("/speakers", data={**form, "alias": "Kitchen"})
            assert taken.status_code == 422 and "is already a speaker" in taken.text
            added = await http.post("/speakers", data={**form, "alias": "The Telly"})
            assert added.status_code == 200 and "“the telly” now means Den TV" in added.text
            assert "Kitchen</q> <small>(default)" in added.text and "loudest volume,\n100%" in added.text
            unknown = await http.post("/speakers/default", data={"csrf": csrf, "speaker": "Garage"})
            assert unknown.status_code == 422 and "Garage is not one of your speakers" in unknown.text
            made = await http.post("/speakers/default", data=form)
            assert made.status_code == 200 and "Den TV</q> <small>(default)" in made.text
            assert box.session.player.preferred_device == "Den TV"  # in effect at once
            assert 'default_device = "Den TV"' in (tmp_path / "config.toml").read_text()
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=bearer) as api:
            moved = await api.post("/api/command", json={"text": "play abbey road on the telly"})
            listed = (await api.get("/api/speakers")).json()
            forgot = await api.delete("/api/speakers/aliases/the telly")
            after = await api.post("/api/command", json={"text": "play kind of blue on the telly"})
    assert moved.json()["intent"] == "PlayAlbum" and moved.status_code == 200
    active = next(d for d in live.snapshot()["devices"] if d["is_active"])
    assert active["name"] == "Den TV" and live.snapshot()["playback"]["album_name"] == "Abbey Road"
    assert listed["aliases"] == {"the telly": "Den TV"} and "the telly" not in listed["speakers"]
    assert forgot.status_code == 200 and after.json()["ok"] is False  # no speaker of that name now
    assert (tmp_path / "speakers.yaml").read_text().startswith("# Other names for your speakers")


@pytest.mark.slow
async def test_the_sound_of_a_command_is_kept_when_asked(live: LiveSandbox, tmp_path: Path) -> None:
    from maestro.box.wiring import default_voice
    from tests.box.test_daemon import voice_wav

    wav = voice_wav(tmp_path / "voice.wav", 3.0, "next song")
    env = {"MAESTRO_VOICE_ENGINE": "pocketsphinx", "MAESTRO_VOICE_INPUT_DEVICE": f"wav:{wav}",
           "MAESTRO_VOICE_KEEP_AUDIO": "true"}  # fmt: skip
    (tmp_path / "heard").mkdir()
    (tmp_path / "heard" / "7.wav").write_bytes(b"RIFF from an earlier run")
    async with web_box(live, tmp_path, env, voice=default_voice) as (box, url):
        assert not (tmp_path / "heard" / "7.wav").exists()  # no entry of this run is its
        said = box.speaker.history  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=url) as http:
            async with asyncio.timeout(60):
                while not any(source == "voice" for source, _ in box.replies):
                    await asyncio.sleep(0.1)
            assert (await http.get("/heard/1.wav")).status_code == 401  # not paired yet
            await paired(http, said)
            page = (await http.get("/heard")).text
            assert '<audio controls preload="none" src="/heard/1.wav">' in page and "voice.keep_audio" in page
            clip = await http.get("/heard/1.wav")
            assert (await http.get("/heard/2.wav")).status_code == 404
    assert clip.status_code == 200 and clip.headers["content-type"] == "audio/wav"
    assert clip.content.startswith(b"RIFF") and len(clip.content) > 16_000  # a second or more of sound
    assert [r.intent for s, r in box.replies if s == "voice"] == ["Next"]
    assert box.voice.heard[0].audio == b""  # the sound is not kept in memory as well

"""HubSource pieces that need no hub: secrets file, factory, device id, names, and faults of a broken server.

The fault server here is a scripted stdlib HTTP server on 127.0.0.1 (the real hub is used in
tests/integration/test_hub_source.py).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from player.config import load_config
from player.identity import DEVICE_ID_FILE, device_id, read_device_id
from player.parse_rest import HubError, HubUnavailable, ParseClient
from player.sources.base import SourceError
from player.sources.names import ADJECTIVES, NOUNS, screen_name
from player.sources.parse_hub import HubConfigError, HubSource, load_secrets, make_hub_source


# ------------------------------------------------------------------------------------------------ secrets
def write_secrets(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_secrets_file_must_be_private(tmp_path: Path) -> None:
    path = write_secrets(tmp_path / "s.toml", 'rest_key = "k"\n', 0o644)
    with pytest.raises(HubConfigError) as info:
        load_secrets(path)
    line = str(info.value)
    assert str(path) in line and "0644" in line and "chmod 600" in line and "\n" not in line
    os.chmod(path, 0o600)
    assert load_secrets(path) == {"rest_key": "k"}


@pytest.mark.parametrize("text,expected", [
    ('rest_key = "k"\nusername = "u"\n', "username and password"),
    ('rest_kee = "k"\n', "unknown key 'rest_kee'"),
    ("rest_key = 5\n", "rest_key must be a non-empty text"),
    ("rest_key = \n", "not valid TOML"),
])
def test_secrets_file_errors_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(HubConfigError, match=expected):
        load_secrets(write_secrets(tmp_path / "s.toml", text))


def test_missing_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(HubConfigError, match="not found"):
        load_secrets(tmp_path / "nope.toml")


def config_for(tmp_path: Path, **hub: Any) -> Any:
    secrets = write_secrets(tmp_path / "hub-secrets.toml", 'javascript_key = "js"\nusername = "stele"\n'
                                                          'password = "pw"\n')
    values = {"url": "https://hub.example.org/parse", "app_id": "app", "secrets_file": str(secrets), **hub}
    return load_config(None, env={}, overrides={"hub": values, "player": {"state_dir": str(tmp_path / "state"),
                                                                         "rotation": 90}})


def test_make_hub_source_from_config(tmp_path: Path) -> None:
    source = make_hub_source(config_for(tmp_path, allowed_file_hosts=["cdn.example.org"]))
    assert isinstance(source, HubSource)
    assert source.client.js_key == "js" and source.client.rest_key is None
    assert (source.client.username, source.client.password) == ("stele", "pw")
    assert source.options.canvas == (1080, 1920)  # a portrait stele (rotation 90)
    assert source.options.allowed_file_hosts == ("cdn.example.org",)
    assert source.name == "https://hub.example.org/parse"


@pytest.mark.parametrize("hub,expected", [({"url": ""}, "hub.url is empty"), ({"app_id": ""}, "hub.app_id")])
def test_make_hub_source_needs_url_and_app_id(tmp_path: Path, hub: dict[str, Any], expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        make_hub_source(config_for(tmp_path, **hub))


# ------------------------------------------------------------------------------------------------ identity
def test_device_id_created_once_and_kept(tmp_path: Path) -> None:
    assert read_device_id(tmp_path) is None
    first = device_id(tmp_path / "state")
    assert uuid.UUID(first).version == 4
    assert device_id(tmp_path / "state") == first
    assert (tmp_path / "state" / DEVICE_ID_FILE).read_text().strip() == first
    assert not [p for p in (tmp_path / "state").iterdir() if p.name != DEVICE_ID_FILE]  # no temp files left


def test_damaged_device_id_is_replaced(tmp_path: Path) -> None:
    (tmp_path / DEVICE_ID_FILE).write_text("kaputt")
    new = device_id(tmp_path)
    assert uuid.UUID(new) and read_device_id(tmp_path) == new


# ------------------------------------------------------------------------------------------------ names
def test_names_are_german_and_declined() -> None:
    assert screen_name("abc") == screen_name("abc")
    seen = {screen_name(str(i)) for i in range(300)}
    assert len(seen) > 250
    genders = dict(NOUNS)
    for name in seen:
        adjective, noun, number = name.split(" ")
        assert 1 <= int(number) <= 99
        ending = {"m": "r", "f": "e", "n": "s"}[genders[noun]]
        assert adjective.endswith(ending) and adjective[0].isupper()
        assert {adjective.lower(), adjective[:-1].lower(), adjective[:-2].lower()} & set(ADJECTIVES)
    assert any(ch in "äöüß" for name in seen for ch in name)


# ------------------------------------------------------------------------------------------------ faults
class Broken(ThreadingHTTPServer):
    daemon_threads = True
    mode = "500"
    release = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        server: Broken = self.server  # type: ignore[assignment]
        if server.mode == "hang":
            server.release.wait(10)
            return
        if server.mode == "500":
            body = b'{"error":"boom"}'
            self.send_response(500)
        elif server.mode == "json":
            body = b"<html>Wartungsarbeiten</html>"
            self.send_response(200)
        else:  # a 50 MB body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                chunk = b" " * 1_000_000
                for _ in range(50):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815


@pytest.fixture
def broken() -> Iterator[Broken]:
    server = Broken(("127.0.0.1", 0), Handler)
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode,error,text", [
    ("500", HubUnavailable, "HTTP 500"),
    ("json", HubError, "invalid JSON"),
    ("big", HubError, "exceeds the limit"),
    ("hang", HubUnavailable, "no answer in time"),
])
def test_faults_raise_client_errors_that_are_source_errors(broken: Broken, tmp_path: Path, mode: str,
                                                           error: type[Exception], text: str) -> None:
    broken.mode = mode
    url = f"http://127.0.0.1:{broken.server_address[1]}/parse"
    source = HubSource(ParseClient(url, "app", rest_key="k", timeout=(1, 1)), tmp_path)
    with pytest.raises(error) as info:
        source.fetch(None)
    assert isinstance(info.value, SourceError) and text in str(info.value) and url in str(info.value)
    assert "\n" not in str(info.value)

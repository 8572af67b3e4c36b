"""HTTPS against a real TLS server on 127.0.0.1 with a self-signed certificate made at test time (openssl CLI):
``cache.ca_file`` trusts it, without it the download fails with one clear line, a wrong path is named at config
load and again by the downloader (never an "unexpected error" traceback)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from player.cache import ContentCache
from player.config import load_config
from player.fetch import Downloader, FetchError

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

BODY = bytes(range(256)) * 400


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), made now with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the openssl command is needed for the TLS tests")
        pytest.skip("no openssl command")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@pytest.fixture
def tls_srv(cert: tuple[Path, Path]) -> Iterator[FaultServer]:
    srv = FaultServer({"/f.bin": BODY})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    httpd = srv._httpd  # the helper's HTTP server, turned into an HTTPS one before it starts serving
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    with srv:
        yield srv


def https(srv: FaultServer, path: str) -> str:
    return f"https://127.0.0.1:{srv.port}{path}"


def test_download_succeeds_with_the_ca_file(tls_srv: FaultServer, cert: tuple[Path, Path], tmp_path: Path) -> None:
    with ContentCache(tmp_path / "c", 10**8) as cache, Downloader(cache, ca_file=cert[0], retries=0) as dl:
        res = dl.fetch(https(tls_srv, "/f.bin"), expected_sha=sha(BODY))
        assert res.sha == sha(BODY) and cache.read_bytes(res.sha) == BODY
    assert tls_srv.count("/f.bin", status=200) == 1


def test_download_fails_with_one_clear_line_without_the_ca_file(
        tls_srv: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = https(tls_srv, "/f.bin")
    with ContentCache(tmp_path / "c", 10**8) as cache, Downloader(cache, retries=0) as dl, \
            caplog.at_level(logging.INFO):
        err = dl.fetch_many([url])[url]
        assert isinstance(err, FetchError)
        assert cache.stats() == (0, 0)
    text = str(err)
    assert "\n" not in text and text.startswith(url) and "TLS verification failed" in text
    assert "certificate verify failed" in text
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    assert tls_srv.count("/f.bin") == 0, "nothing may be served over an unverified connection"


def test_wrong_ca_file_path_names_the_key_instead_of_a_traceback(
        tls_srv: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "no-such-ca.pem"
    url = https(tls_srv, "/f.bin")
    with ContentCache(tmp_path / "c", 10**8) as cache, Downloader(cache, ca_file=missing, retries=0) as dl, \
            caplog.at_level(logging.INFO):
        err = dl.fetch_many([url])[url]
        doc_err = pytest.raises(FetchError, dl.fetch_document, url).value
    for e in (err, doc_err):
        assert isinstance(e, FetchError)
        assert "\n" not in str(e) and "cache.ca_file" in str(e) and str(missing) in str(e)
    assert not any("unexpected" in r.getMessage() or r.exc_info for r in caplog.records), caplog.text


def test_config_names_a_missing_or_unreadable_ca_file(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    toml = tmp_path / "player.toml"
    missing = tmp_path / "gone.pem"
    toml.write_text(f'[cache]\nca_file = "{missing}"\n', encoding="utf-8")
    config = load_config(toml, env={})
    assert len(config.problems) == 1
    line = config.problems[0]
    assert line.startswith(f"{toml}: cache.ca_file: ") and str(missing) in line and "does not exist" in line
    assert config["cache"]["ca_file"] == str(missing), "kept, so downloads keep naming it instead of other CAs"

    plain = tmp_path / "plain.toml"
    plain.write_text("", encoding="utf-8")
    unreadable = tmp_path / "locked.pem"
    unreadable.write_bytes(cert[0].read_bytes())
    unreadable.chmod(0)
    try:
        readable_anyway = os.access(unreadable, os.R_OK)  # root reads everything
        config = load_config(plain, env={"OSC_PLAYER_CACHE_CA_FILE": str(unreadable)})
        if readable_anyway:
            assert config.problems == ()
        else:
            assert len(config.problems) == 1 and "OSC_PLAYER_CACHE_CA_FILE" in config.problems[0]
            assert "not readable" in config.problems[0]
    finally:
        unreadable.chmod(0o644)

    assert load_config(plain, env={"OSC_PLAYER_CACHE_CA_FILE": str(cert[0])}).problems == ()

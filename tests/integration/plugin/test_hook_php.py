"""The packaged PHP: valid syntax, and the hook class against a live receiver."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dscrm_bridge.config import Config
from dscrm_bridge.plugin import (
    MODULES,
    PluginSettings,
    build_package,
    index_name,
    package_files,
)
from dscrm_bridge.plugin.package import zip_bytes
from dscrm_bridge.plugin.signing import signature
from tests.integration.plugin.conftest import (
    SECRET,
    LiveReceiver,
    config_for,
    php_binary,
    run_hook,
    write_package,
)

TRANSPORTS = pytest.mark.parametrize("streams", [False, True], ids=["curl", "streams"])


def _config(tmp_path: Path, url: str) -> Config:
    return config_for(tmp_path, DSCRM_WEBHOOK_URL=url)


def _skip_without_curl(streams: bool, transport: str) -> None:
    if not streams and transport != "curl":
        pytest.skip("php-curl is not installed")


def _unpack(settings: PluginSettings, directory: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes(package_files(settings)))) as archive:
        archive.extractall(directory)
        return archive.namelist()


def test_every_generated_php_file_passes_php_lint(tmp_path: Path) -> None:
    settings = PluginSettings(
        webhook_url="https://bridge.example/webhook?a='b'\\",
        modules=tuple(MODULES),
        version="0.1.0",
        published="2026-12-04",
    )
    names = _unpack(settings, tmp_path)
    php_files = [name for name in names if name.endswith(".php")]
    assert len(php_files) == len(names) == 3 + len(MODULES) + 2
    for name in php_files:
        done = subprocess.run(
            [php_binary(), "-l", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)


def test_manifest_and_extensions_read_back_in_php(tmp_path: Path) -> None:
    settings = PluginSettings(
        webhook_url="http://bridge.example/webhook?a='b'",
        modules=("Accounts", "Cases"),
        version="0.1.0",
        published="2026-12-04",
    )
    _unpack(settings, tmp_path)
    script = (
        "$dictionary = array();"
        "include $argv[1] . '/manifest.php';"
        "include $argv[1] . '/vardefs/Cases/dscrm_bridge_indexes.php';"
        "$settings = include $argv[1] . '/DscrmBridge/settings.php';"
        "echo json_encode(array($manifest, $installdefs, $dictionary, $settings));"
    )
    done = subprocess.run(
        [php_binary(), "-r", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    manifest, installdefs, dictionary, php_settings = json.loads(done.stdout)
    assert manifest["type"] == "module" and manifest["is_uninstallable"] is True
    hooks = {(h["module"], h["hook"]) for h in installdefs["logic_hooks"]}
    assert hooks == {
        (module, event)
        for module in ("Accounts", "Cases")
        for event in (
            "after_save",
            "after_delete",
            "after_relationship_add",
            "after_relationship_delete",
        )
    }
    assert [v["to_module"] for v in installdefs["vardefs"]] == ["Accounts", "Cases"]
    assert {lang["language"] for lang in installdefs["language"]} == {
        "en_us",
        "zh_cn",
    }
    index = dictionary["Case"]["indices"][index_name("Cases")]
    assert index["fields"] == ["date_modified", "id"]
    assert php_settings["webhook_url"] == "http://bridge.example/webhook?a='b'"
    assert php_settings["modules"] == ["Accounts", "Cases"]


@TRANSPORTS
def test_hook_posts_a_signed_event_the_receiver_accepts(
    tmp_path: Path, live_receiver: LiveReceiver, streams: bool
) -> None:
    package = write_package(_config(tmp_path, live_receiver.url), tmp_path / "pkg")

    run = run_hook(package, "afterSave", "Accounts", "acc-42", streams=streams)

    _skip_without_curl(streams, run.transport)
    assert run.completed
    assert run.errors() == []
    assert live_receiver.receiver.nudger.wait_idle(10)
    assert live_receiver.synced == [["Accounts"]]
    ((headers, body),) = live_receiver.requests
    event = json.loads(body)
    assert {k: event[k] for k in ("module", "id", "event", "user_id")} == {
        "module": "Accounts",
        "id": "acc-42",
        "event": "after_save",
        "user_id": "seed_user_zhang",
    }
    # Signed by PHP, checked here by the Python implementation independently.
    stamp = headers["x-dscrm-timestamp"]
    assert headers["x-dscrm-signature"] == signature(SECRET, stamp, body)


def test_relationship_hook_names_the_other_record(
    tmp_path: Path, live_receiver: LiveReceiver
) -> None:
    package = write_package(_config(tmp_path, live_receiver.url), tmp_path / "pkg")

    run = run_hook(package, "afterRelationshipAdd", "Accounts", "acc-7")

    assert run.errors() == []
    ((_, body),) = live_receiver.requests
    event = json.loads(body)
    assert (event["event"], event["related_module"], event["related_id"]) == (
        "after_relationship_add",
        "Contacts",
        "c-1",
    )


def test_hook_with_a_wrong_secret_is_refused_and_logged_in_suitecrm(
    tmp_path: Path, live_receiver: LiveReceiver
) -> None:
    package = write_package(_config(tmp_path, live_receiver.url), tmp_path / "pkg")

    run = run_hook(package, "afterSave", "Accounts", "acc-1", secret="not-it")

    assert run.completed
    assert any("HTTP 401" in message for message in run.errors())
    assert "not-it" not in run.stdout
    assert live_receiver.synced == []


def test_hook_ignores_modules_not_synced(
    tmp_path: Path, live_receiver: LiveReceiver
) -> None:
    package = write_package(_config(tmp_path, live_receiver.url), tmp_path / "pkg")

    run = run_hook(package, "afterSave", "Bugs", "bug-1")

    assert run.completed and run.errors() == []
    assert live_receiver.requests == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def silent_listener() -> Iterator[str]:
    """Accepts connections and never answers: a hung bridge."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/webhook"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@TRANSPORTS
@pytest.mark.parametrize("bridge", ["down", "hangs"], ids=["down", "hangs"])
def test_saves_complete_when_the_bridge_fails(
    tmp_path: Path, request: pytest.FixtureRequest, bridge: str, streams: bool
) -> None:
    url = (
        f"http://127.0.0.1:{_free_port()}/webhook"
        if bridge == "down"
        else request.getfixturevalue("silent_listener")
    )
    package = write_package(_config(tmp_path, url), tmp_path / "pkg")

    run = run_hook(package, "afterSave", "Accounts", "acc-1", streams=streams, saves=3)

    _skip_without_curl(streams, run.transport)
    assert run.completed
    errors = run.errors()
    # One attempt, then a pause: the next saves of the request do not try again.
    assert sum("could not reach" in message for message in errors) == 1
    assert sum("events paused" in message for message in errors) == 1
    assert SECRET not in run.stdout


def test_build_package_zip_is_reproducible(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://bridge.example/webhook")
    first = build_package(config, output=tmp_path / "a.zip").read_bytes()
    second = build_package(config, output=tmp_path / "b.zip").read_bytes()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert "manifest.php" in archive.namelist()

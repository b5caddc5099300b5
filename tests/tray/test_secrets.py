"""The API key store: the OS keyring when one works, else a private file, never config.json."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.tray.memory_keyring import MemoryKeyring
from tray_app.secrets import KEY_PREFIX, KeyStore, Stored, generate_key

SESSION_SCRIPT = Path(__file__).parent / "scripts" / "secret_service_session.sh"


@pytest.fixture
def use_backend() -> Iterator[object]:
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_keys_are_random_and_recognisable() -> None:
    first, second = generate_key(), generate_key()
    assert first != second and first.startswith(KEY_PREFIX) and len(first) > 40


def test_a_working_keyring_holds_the_key_and_no_file_does(tmp_path: Path, use_backend) -> None:  # type: ignore[no-untyped-def]
    backend = MemoryKeyring()
    use_backend(backend)
    store = KeyStore(tmp_path / "api-key")
    (tmp_path / "api-key").write_text("old")  # left over from a session without a keyring
    stored = store.save("csp-secret")
    assert stored.where == "keyring (memory keyring MemoryKeyring)"
    assert backend.items == {("claude-sdk-proxy", "api-key"): "csp-secret"}
    assert not (tmp_path / "api-key").exists()
    assert store.load().key == "csp-secret"
    store.clear()
    assert store.load().key is None and backend.items == {}


def test_without_a_keyring_the_key_goes_to_a_file_only_its_owner_reads(
    tmp_path: Path, use_backend
) -> None:  # type: ignore[no-untyped-def]
    use_backend(fail.Keyring())
    path = tmp_path / "private" / "api-key"
    stored = KeyStore(path).save("csp-secret")
    assert stored.where == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyStore(path).load() == stored
    KeyStore(path).clear()
    assert not path.exists()


@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus and gnome-keyring (Debian packages), installed by .ci/run",
)
def test_a_real_secret_service_round_trip(tmp_path: Path) -> None:
    program = (
        "import sys, keyring\n"
        "from pathlib import Path\n"
        "from tray_app.secrets import KeyStore\n"
        "store = KeyStore(Path(sys.argv[1]))\n"
        "stored = store.save('csp-real')\n"
        "print(stored.where)\n"
        "print(store.load().key)\n"
        "print(keyring.get_password('claude-sdk-proxy', 'api-key'))\n"
        "store.clear()\n"
        "print(store.load().key)\n"
    )
    result = subprocess.run(
        [
            "dbus-run-session",
            "--",
            str(SESSION_SCRIPT),
            sys.executable,
            "-c",
            program,
            str(tmp_path / "f"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    where, loaded, direct, after_clear = result.stdout.splitlines()[-4:]
    assert where == "keyring (SecretService Keyring)"
    assert loaded == direct == "csp-real" and after_clear == "None"
    assert not (tmp_path / "f").exists()


class SilentKeyring(MemoryKeyring):
    """A keyring waiting on an unlock prompt nobody answers."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.answer.wait(30)
        return super().get_password(service, username)


def test_a_keyring_that_never_answers_does_not_hold_up_the_start(
    tmp_path: Path, use_backend, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    backend = SilentKeyring()
    use_backend(backend)
    try:
        path = tmp_path / "api-key"
        started = time.monotonic()
        assert KeyStore(path).load(answer_within_s=0.3) == Stored(None, "nowhere")
        assert time.monotonic() - started < 5
        assert "The keyring did not answer within 0.3 s" in caplog.text
        path.write_text("csp-from-the-file")
        assert KeyStore(path).load(answer_within_s=0.3).key == "csp-from-the-file"
    finally:
        backend.answer.set()


def test_a_keyring_error_inside_the_wait_is_the_callers(tmp_path: Path, use_backend) -> None:  # type: ignore[no-untyped-def]
    use_backend(fail.Keyring())
    assert KeyStore(tmp_path / "api-key").load(answer_within_s=5) == Stored(None, "nowhere")

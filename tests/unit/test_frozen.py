"""The environment a frozen app hands its children (tests/packaging runs the real binary)."""

from __future__ import annotations

import os
from pathlib import Path

from proxy_core.frozen import prepare_environment, without_bundle_paths

BUNDLE = "/opt/app/_internal"


def test_the_users_library_path_comes_back_and_the_saved_copy_goes(tmp_path: Path) -> None:
    environ = {"LD_LIBRARY_PATH": f"{BUNDLE}:/opt/mine", "LD_LIBRARY_PATH_ORIG": "/opt/mine"}
    prepare_environment(environ, bundle=BUNDLE, home=tmp_path)
    assert environ["LD_LIBRARY_PATH"] == "/opt/mine"
    assert "LD_LIBRARY_PATH_ORIG" not in environ


def test_a_library_path_that_was_unset_is_unset_again(tmp_path: Path) -> None:
    environ = {"LD_LIBRARY_PATH": BUNDLE, "PATH": "/usr/bin"}
    prepare_environment(environ, bundle=BUNDLE, home=tmp_path)
    assert "LD_LIBRARY_PATH" not in environ


def test_a_second_call_changes_nothing(tmp_path: Path) -> None:
    environ = {"LD_LIBRARY_PATH": f"{BUNDLE}:/opt/mine", "LD_LIBRARY_PATH_ORIG": "/opt/mine"}
    prepare_environment(environ, bundle=BUNDLE, home=tmp_path)
    once = dict(environ)
    prepare_environment(environ, bundle=BUNDLE, home=tmp_path)
    assert environ == once


def test_from_source_nothing_changes() -> None:
    environ = {"LD_LIBRARY_PATH": f"{BUNDLE}:/opt/mine", "LD_LIBRARY_PATH_ORIG": "/opt/mine"}
    prepare_environment(environ)  # pytest is not a frozen app
    assert environ == {
        "LD_LIBRARY_PATH": f"{BUNDLE}:/opt/mine",
        "LD_LIBRARY_PATH_ORIG": "/opt/mine",
    }


def test_claude_install_folders_that_exist_join_the_end_of_path(tmp_path: Path) -> None:
    (tmp_path / ".local" / "bin").mkdir(parents=True)
    (tmp_path / ".claude" / "local").mkdir(parents=True)
    environ = {"PATH": os.pathsep.join(["/usr/bin", str(tmp_path / ".claude" / "local")])}
    prepare_environment(environ, bundle=BUNDLE, home=tmp_path)
    entries = environ["PATH"].split(os.pathsep)
    assert entries[:2] == ["/usr/bin", str(tmp_path / ".claude" / "local")]  # the user's order
    assert entries.count(str(tmp_path / ".claude" / "local")) == 1
    assert str(tmp_path / ".local" / "bin") in entries[2:]
    assert str(tmp_path / ".yarn" / "bin") not in entries  # absent folders are not added


def test_desktop_programs_get_no_path_into_the_app() -> None:
    environ = {
        "XDG_DATA_DIRS": f"{BUNDLE}/share:/usr/share",
        "GIO_MODULE_DIR": f"{BUNDLE}/gio_modules",
        "LD_LIBRARY_PATH": "/opt/mine",
        "HOME": "/home/me",
    }
    assert without_bundle_paths(environ, BUNDLE) == {
        "XDG_DATA_DIRS": "/usr/share",
        "LD_LIBRARY_PATH": "/opt/mine",
        "HOME": "/home/me",
    }

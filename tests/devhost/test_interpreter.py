"""Interpreter-start app settings (PYTHONMALLOC, MIMALLOC_*): applied by re-executing the command, as the
Functions host starts its worker with them (devhost/interpreter.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.interpreter import StartSettingError, is_start_setting, start_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MIMALLOC = {"PYTHONMALLOC": "mimalloc", "MIMALLOC_PURGE_DELAY": "0"}


def test_only_start_settings_the_environment_lacks() -> None:
    values = {**MIMALLOC, "HARVEST_BATCH_SIZE": "8", "PYTHONPATH": "/x"}
    assert start_settings(values, {}) == MIMALLOC  # other settings are not the interpreter's to apply at start
    assert start_settings(values, MIMALLOC) == {}  # already started with them: no second restart
    assert start_settings(values, {"PYTHONMALLOC": "mimalloc"}) == {"MIMALLOC_PURGE_DELAY": "0"}


def test_an_allocator_python_cannot_use_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StartSettingError, match="PYTHONMALLOC='jemalloc' is not an allocator"):
        start_settings({"PYTHONMALLOC": "jemalloc"}, {})
    monkeypatch.setattr("devhost.interpreter.sysconfig.get_config_var", lambda name: 0)
    with pytest.raises(StartSettingError, match="built without mimalloc: Azure's worker would not start"):
        start_settings({"PYTHONMALLOC": "mimalloc"}, {})
    assert start_settings({"PYTHONMALLOC": "pymalloc"}, {}) == {"PYTHONMALLOC": "pymalloc"}


def _settings(tmp_path: Path, values: dict[str, str]) -> Path:
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return tmp_path


PROBE = """
import os, sys
from pathlib import Path
print("start", os.getpid(), flush=True)
from devhost.interpreter import restart_with
restart_with(Path(sys.argv[1]))
import _testinternalcapi
print("running", os.getpid(), _testinternalcapi.pymem_getallocatorsname(), os.environ.get("MIMALLOC_PURGE_DELAY"))
"""


def _probe(root: Path, **env: str) -> list[list[str]]:
    base = {k: v for k, v in os.environ.items() if not is_start_setting(k)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, timeout=60,
                          cwd=REPO_ROOT, env={**base, "PYTHONPATH": str(REPO_ROOT), **env})
    assert done.returncode == 0, done.stderr
    return [line.split() for line in done.stdout.splitlines()]


def test_the_command_restarts_once_under_the_allocator_of_local_settings(tmp_path: Path) -> None:
    pytest.importorskip("_testinternalcapi")
    (first, pid), (again, same_pid), (ran, ran_pid, allocator, delay) = _probe(_settings(tmp_path, MIMALLOC))
    assert (first, again, ran) == ("start", "start", "running")
    assert pid == same_pid == ran_pid  # exec: the same process, so a supervisor's PID stays right
    assert (allocator, delay) == ("mimalloc", "0")


def test_the_environment_wins_over_local_settings(tmp_path: Path) -> None:
    pytest.importorskip("_testinternalcapi")
    lines = _probe(_settings(tmp_path, MIMALLOC), PYTHONMALLOC="pymalloc", MIMALLOC_PURGE_DELAY="0")
    assert [line[0] for line in lines] == ["start", "running"] and lines[1][2] == "pymalloc"  # no restart


def test_the_harvest_entry_point_restarts_under_the_repository_settings() -> None:
    values = json.loads((REPO_ROOT / "local.settings.json").read_text())["Values"]
    assert values["PYTHONMALLOC"] == "mimalloc" and values["MIMALLOC_PURGE_DELAY"] == "0"
    env = {k: v for k, v in os.environ.items() if not is_start_setting(k)}
    done = subprocess.run([sys.executable, "-c", "from cli.entry import main; main()", "--help"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "keep a search corpus fresh" in done.stdout, done.stderr


def test_the_cli_names_a_start_setting_it_cannot_apply(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from cli import entry

    monkeypatch.setattr("devhost.interpreter.load_local_settings", lambda root: {"PYTHONMALLOC": "jemalloc"})
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    with pytest.raises(SystemExit) as info:
        entry.main()
    assert info.value.code == 2
    assert "harvest: PYTHONMALLOC='jemalloc' is not an allocator" in capsys.readouterr().err

"""One owner per run folder: an OS lock that a second process cannot take and that dies with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ganzoo.errors import RunLockedError
from ganzoo.store.folder import RunFolder
from ganzoo.store.lock import RunLock, held_here, read_holder

pytest.importorskip("fcntl")

HOLDER = textwrap.dedent("""
    import sys, time
    from ganzoo.store.lock import RunLock
    from ganzoo.errors import RunLockedError
    try:
        RunLock(sys.argv[1]).acquire()
    except RunLockedError as exc:
        print("refused:", exc, flush=True)
        sys.exit(3)
    print("locked", flush=True)
    time.sleep(120)
""")


def start_holder(folder):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, env=env)
    return proc


def test_a_second_process_is_refused_with_the_holders_pid_and_kill_9_frees_the_folder(tmp_path):
    folder = tmp_path / "run"
    proc = start_holder(folder)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError) as info:
            RunLock(folder).acquire()
        message = str(info.value)
        assert f"in use by pid {proc.pid}" in message and "\n" not in message
        assert read_holder(folder)["pid"] == str(proc.pid)
        proc.send_signal(signal.SIGKILL)  # no chance to clean up: the kernel must drop the lock
        proc.wait(timeout=30)
        with RunLock(folder):
            assert held_here(folder)
            assert read_holder(folder)["pid"] == str(os.getpid())
        assert read_holder(folder) == {}, "a released lock leaves no holder note behind"
        assert not held_here(folder)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_while_this_process_holds_it_another_process_is_refused(tmp_path):
    folder = tmp_path / "run"
    with RunFolder(folder).lock():
        proc = start_holder(folder)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 3
        assert f"in use by pid {os.getpid()}" in out
    proc = start_holder(folder)  # released: now the other process gets it
    try:
        assert proc.stdout.readline().strip() == "locked"
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_is_reentrant_in_one_process_and_released_by_the_outermost(tmp_path):
    folder = tmp_path / "run"
    run = RunFolder(folder)
    with run.lock():
        with run.lock():  # e.g. restart() or clean_stale_temp() called by the trainer that holds the lock
            assert held_here(folder)
        assert held_here(folder), "the inner release must not drop the outer lock"
    assert not held_here(folder)
    assert (folder / ".lock").exists(), "the lock file stays (deleting it would let two processes lock two files)"


def test_a_lock_on_an_unwritable_place_is_an_os_error_not_a_hang(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        RunLock(blocker / "run").acquire()

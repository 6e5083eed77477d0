"""SIGTERM in a process of a torchrun job: the launcher sends it to every survivor the moment one rank dies, while the
survivor's own failed collective is being reported. Each case runs `ganzoo` in a subprocess with torchrun's
variables set, since an unguarded SIGTERM would kill the process (pytest itself, in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from ganzoo.cli import commands

    def lost_peer(args, console, err):
        try:
            raise RuntimeError("[gloo] Connection reset by peer")
        finally:  # torchrun's SIGTERM lands while the failure is on its way to the CLI's one line
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)

    def lost_peer_twice(args, console, err):
        try:
            raise RuntimeError("[gloo] Connection reset by peer")
        finally:  # a second SIGTERM means it: a process stuck here must not outlive it
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)

    def working(args, console, err):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return 0

    def done(args, console, err):  # finished; the SIGTERM lands while the process group is taken down
        import torch.distributed as dist

        def destroy():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)

        dist.is_initialized, dist.destroy_process_group = (lambda: True), destroy
        return 0

    commands.COMMANDS["list"] = {"lost": lost_peer, "lost-twice": lost_peer_twice, "working": working,
                                 "done": done}[sys.argv[1]]
    raise SystemExit(commands.main(["list"]))
""")


def _ganzoo(case: str, rank: str, world: str = "2") -> subprocess.CompletedProcess:
    env = {**os.environ, "WORLD_SIZE": world, "RANK": rank}
    return subprocess.run([sys.executable, "-c", _SCRIPT, case], capture_output=True, text=True, timeout=60, env=env)


def _said(proc: subprocess.CompletedProcess) -> list:
    """What ganzoo printed (a warning torch may print on import on some machine is not ganzoo's)."""
    return [line for line in proc.stderr.splitlines() if line.startswith("ganzoo")]


def test_a_sigterm_while_a_lost_peer_is_reported_still_leaves_its_one_line():
    proc = _ganzoo("lost", rank="0")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = _said(proc)
    assert len(lines) == 1 and "rank 0: another process of this torchrun job stopped" in lines[0], proc.stderr


def test_a_second_sigterm_while_reporting_kills():
    assert _ganzoo("lost-twice", rank="0").returncode == -15


def test_a_sigterm_after_the_command_finished_keeps_its_exit_status():
    proc = _ganzoo("done", rank="0")
    assert proc.returncode == 0 and _said(proc) == [], (proc.returncode, proc.stderr[-2000:])


@pytest.mark.parametrize("rank, said", [("0", True), ("1", False)])
def test_a_sigterm_while_working_stops_promptly_and_rank_0_says_so_once(rank, said):
    proc = _ganzoo("working", rank=rank)
    assert proc.returncode == 130, (proc.returncode, proc.stderr[-2000:])
    assert _said(proc) == (["ganzoo: interrupted"] if said else []), proc.stderr


def test_outside_a_torchrun_job_sigterm_keeps_its_default_meaning():
    proc = _ganzoo("working", rank="0", world="1")
    assert proc.returncode == -15 and _said(proc) == [], (proc.returncode, proc.stderr[-2000:])

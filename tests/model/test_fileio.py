"""Atomic writes: a temp file a killed process left behind never blocks a later writer (which may get the
same pid), and two threads writing one path do not collide."""

from __future__ import annotations

import os
import threading
import time

from model.fileio import atomic_write_text


def test_a_leftover_temp_file_of_the_same_pid_does_not_block_the_write(tmp_path):
    target = tmp_path / "state.json"
    leftover = tmp_path / f".state.json.tmp-{os.getpid()}"  # the name a killed writer with our pid left
    leftover.write_text("half a write")
    atomic_write_text(target, "whole")
    assert target.read_text() == "whole"


def test_leftovers_of_dead_processes_and_old_ones_of_our_pid_are_cleared(tmp_path):
    target = tmp_path / "manifest.json"
    dead = tmp_path / ".manifest.json.tmp-999999999-abc"  # no such process
    old_mine = tmp_path / f".manifest.json.tmp-{os.getpid()}-def"
    fresh_mine = tmp_path / f".manifest.json.tmp-{os.getpid()}-123"  # another thread's write in progress
    other = tmp_path / ".other.json.tmp-999999999-abc"  # a different target: not ours to touch
    for p in (dead, old_mine, fresh_mine, other):
        p.write_text("x")
    an_hour_ago = time.time() - 3600
    os.utime(old_mine, (an_hour_ago, an_hour_ago))
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert not dead.exists() and not old_mine.exists()
    assert fresh_mine.exists() and other.exists()


def test_two_threads_writing_one_path_do_not_collide(tmp_path):
    target = tmp_path / "pointer.txt"
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(200):
                atomic_write_text(target, f"{tag}{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text() in {"a199", "b199"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pointer.txt.tmp-")]

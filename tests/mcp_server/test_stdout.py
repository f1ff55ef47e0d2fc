"""stdout written on the event loop: a full pipe never blocks other tasks, nothing is lost."""

from __future__ import annotations

import os

import anyio
import pytest

from plugyard.mcp_server.stdout import LoopStdout, claimed_stdout

pytestmark = pytest.mark.anyio


async def test_a_client_that_stops_reading_blocks_only_the_writer():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    out = LoopStdout(write_end)
    line = "x" * 999 + "\n"
    ticks = 0
    finished = anyio.Event()

    async def writer() -> None:
        for _ in range(300):  # 300 kB: several times what a pipe holds
            await out.write(line)
        finished.set()

    async def ticker() -> None:
        nonlocal ticks
        while not finished.is_set():
            ticks += 1
            await anyio.sleep(0.001)

    received = bytearray()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            tg.start_soon(ticker)
            await anyio.sleep(0.1)
            # The pipe is full and nobody reads: the writer waits, the other task keeps running (a
            # writer blocking the loop would have let neither the ticker nor this sleep return).
            assert not finished.is_set() and ticks > 0
            while not finished.is_set() or len(received) < 300 * len(line):
                await anyio.wait_readable(read_end)
                received += os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert received == (line * 300).encode()


def test_while_claimed_fd_1_goes_to_stderr_and_is_restored(capfd):
    with claimed_stdout() as private:
        os.write(1, b"stray\n")
        os.write(private, b"protocol\n")
        assert not os.get_blocking(private)
    os.write(1, b"after\n")
    captured = capfd.readouterr()
    assert captured.out == "protocol\nafter\n"
    assert captured.err == "stray\n"

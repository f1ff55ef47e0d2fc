"""A stdio server's output as an awkward pipe carries it: ``relay_pipe.py [options] -- COMMAND ARGS...``.

Runs COMMAND (its stdin is this process's) and relays its stdout line by line:
``--chunk N --pause S`` writes each line in pieces of N bytes, S seconds apart (lines arrive in parts);
``--cut-on TEXT`` writes only the first half of the first line holding TEXT, then ends both processes
(the server exits mid-message); ``--noise`` writes, for every line relayed, a JSON-RPC-looking line and
a plain one to stderr (which must never reach the protocol).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--cut-on", default=None)
    parser.add_argument("--noise", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    child = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert child.stdout is not None
    out = sys.stdout.buffer
    for line in iter(child.stdout.readline, b""):
        if args.noise:
            sys.stderr.write('{"jsonrpc":"2.0","id":1,"result":{"noise":true}}\nnoise on stderr\n')
            sys.stderr.flush()
        if args.cut_on is not None and args.cut_on.encode() in line:
            out.write(line[: len(line) // 2])
            out.flush()
            child.send_signal(signal.SIGKILL)
            os._exit(0)
        pieces = [line[i : i + args.chunk] for i in range(0, len(line), args.chunk)] if args.chunk else [line]
        for piece in pieces:
            out.write(piece)
            out.flush()
            if args.pause:
                time.sleep(args.pause)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""The least a process between an MCP client and its server can do: copy bytes both ways, parse nothing.

``byte_relay.py COMMAND ARGS...`` starts COMMAND and copies this process's stdin to its stdin and its
stdout to this process's stdout, as the bytes arrive, on one thread (a selector over both pipes). No
message is parsed, recorded or validated: what a relay adds to a call below what any proxy that reads the
messages could add. ``bench_upstream.py`` measures it as the floor of the proxied path.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys


def main() -> int:
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert child.stdin is not None and child.stdout is not None
    routes = {0: child.stdin.fileno(), child.stdout.fileno(): 1}
    with selectors.DefaultSelector() as selector:
        for source in routes:
            selector.register(source, selectors.EVENT_READ)
        while routes:
            for key, _ in selector.select():
                data = os.read(key.fd, 1 << 16)
                if not data:  # one side ended: so does the relay
                    child.stdin.close()
                    return child.wait()
                view = memoryview(data)
                while view:
                    view = view[os.write(routes[key.fd], view) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())

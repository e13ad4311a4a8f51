#!/usr/bin/python3
"""Load on loopback: irc_load's clients against a server started here, which must lose
nothing and then exit 0 on SIGTERM. Prints irc_load's RESULT line.

    load.py IRC_LOAD [--clients 500 --channels 50 --messages 100000] -- SERVER_CMD...

IRC_LOAD_TIMEOUT (seconds, default 100) bounds the run. SERVER_CMD is our irc_server or any server that prints "listening on HOST:PORT" to stderr
when given "--port 0" (tools/tour/python/irc_server.py does, for the CPython figure).
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ircserver import check, watchdog  # noqa: E402


def main(argv):
    split = argv.index("--")
    load, load_args, server_cmd = argv[0], argv[1:split], argv[split + 1:]
    timeout = int(os.environ.get("IRC_LOAD_TIMEOUT", "100"))  # benchmarks of slow servers raise it
    watchdog(timeout + 50)
    server = subprocess.Popen(server_cmd + ["--port", "0", "--quiet"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        while port is None:
            line = server.stderr.readline()
            check(line or server.poll() is None, "server did not start")
            m = re.search(r"listening on [^ ]*:(\d+)", line)
            if m:
                port = int(m.group(1))
        r = subprocess.run([load, "--port", str(port), "--server-pid", str(server.pid),
                            "--timeout", str(timeout), *load_args], capture_output=True,
                           text=True, timeout=timeout + 30)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr[-4000:])
        check(r.returncode == 0, "irc_load reported losses or errors (exit %d)" % r.returncode)
        server.send_signal(signal.SIGTERM)
        rc = server.wait(30)
        check(rc == 0, "server exit status %s after SIGTERM" % rc)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main(sys.argv[1:])

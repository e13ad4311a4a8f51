"""Shared by the IRC tests: start our irc_server (or ngircd) on a free loopback port and
make sure it is gone afterwards. Runs under /usr/bin/python3 (Debian's python3-irc)."""
import os
import re
import signal
import subprocess
import sys
import time


class OurServer:
    """irc_server --port 0 as a child process; `port` once it listens."""

    def __init__(self, binary, *args, timeout=20):
        quiet = [] if os.environ.get("IRC_TEST_TRACE") else ["--quiet"]
        trace = ["--trace"] if os.environ.get("IRC_TEST_TRACE") else []
        self.proc = subprocess.Popen([binary, "--port", "0", *quiet, *trace, *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        deadline = time.monotonic() + timeout
        self.port = None
        while self.port is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError("irc_server did not start: %r" % self.log)
            line = self.proc.stderr.readline()
            self.log.append(line)
            m = re.search(r"listening on [^ ]*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        # Keep draining stderr, so that a chatty server (--trace) never blocks on the pipe.
        import threading
        self.drain = threading.Thread(target=lambda: self.log.extend(self.proc.stderr),
                                      daemon=True)
        self.drain.start()

    def stop(self, timeout=20, sig=signal.SIGTERM):
        """`sig` (SIGTERM or SIGINT), then wait: the exit status (0 for a clean shutdown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("irc_server ignored SIGTERM for %ss" % timeout)
        self.drain.join(10)
        if os.environ.get("IRC_TEST_TRACE"):
            sys.stderr.write("".join(self.log))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def watchdog(seconds):
    """Fails the whole test (exit 1, after the finally blocks) when it runs too long."""
    def expired(signum, frame):
        raise TimeoutError("test exceeded %s s" % seconds)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    """A loopback port nobody listens on now (the usual small race is accepted)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=15):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d after %ss" % (port, timeout))


class LineReader:
    """Collects a child's stdout lines on a thread; wait_for(regex) with a deadline."""

    def __init__(self, stream):
        import threading
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern, timeout=15):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no output line matches /%s/; got:\n%s"
                                         % (pattern, "\n".join(self.lines[-40:])))
                self.cond.wait(left)

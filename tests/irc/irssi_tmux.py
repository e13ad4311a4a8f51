#!/usr/bin/python3
"""irssi (a real client nobody here wrote), driven in a detached tmux session, against our
server: connect (it opens with CAP LS 302), join, talk, /whois, /part, /quit. A
python3-irc bot in the channel checks each step from the other side. The tmux server runs
on its own socket, in a temp dir, and is killed at the end.

    /usr/bin/python3 tests/irc/irssi_tmux.py path/to/irc_server
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import irc.client

from _ircserver import OurServer, check, watchdog


def main(server_binary):
    watchdog(90)
    tmp = tempfile.TemporaryDirectory()
    # The tmux server's socket lives in the temp dir, so nothing is left in /tmp/tmux-UID.
    tmux = ["tmux", "-S", os.path.join(tmp.name, "tmux.sock")]
    with OurServer(server_binary, "--name", "irssi.test") as server:
        try:
            reactor = irc.client.IRC()
            events = []
            reactor.add_global_handler("all_events", lambda c, e: events.append(e))
            watcher = reactor.server().connect("127.0.0.1", server.port, "watcher",
                                               ircname="Watcher Bot")

            def pump(pred, what, timeout=20):
                deadline = time.monotonic() + timeout
                while not pred():
                    if time.monotonic() > deadline:
                        raise AssertionError("timed out waiting for %s; irssi shows:\n%s"
                                             % (what, screen()))
                    reactor.process_once(0.05)

            def seen(kind, pred=lambda e: True):
                return [e for e in events if e.type == kind and pred(e)]

            def screen():
                r = subprocess.run(tmux + ["capture-pane", "-p", "-t", "irssi"],
                                   capture_output=True, text=True)
                return r.stdout

            def keys(text):
                subprocess.run(tmux + ["send-keys", "-t", "irssi", "-l", text], check=True)
                subprocess.run(tmux + ["send-keys", "-t", "irssi", "Enter"], check=True)

            pump(lambda: seen("welcome"), "the watcher's welcome")
            watcher.join("#tour")
            pump(lambda: seen("endofnames"), "the watcher's join")

            env = dict(os.environ, TERM="screen")
            home = os.path.join(tmp.name, "irssi")
            os.mkdir(home)
            subprocess.run(tmux + ["new-session", "-d", "-s", "irssi", "-x", "160", "-y", "50",
                                   "irssi --home=%s -c 127.0.0.1 -p %d -n irssiuser"
                                   % (home, server.port)], check=True, env=env)
            # irssi registers after CAP negotiation; the watcher can then find it.
            def online():
                watcher.ison(["irssiuser"])
                reactor.process_once(0.2)
                return any("irssiuser" in " ".join(e.arguments) for e in seen("ison"))
            pump(online, "irssi's registration")

            keys("/join #tour")
            pump(lambda: seen("join", lambda e: e.source.nick == "irssiuser"), "irssi's JOIN")
            keys("hello from irssi")
            pump(lambda: seen("pubmsg", lambda e: e.source.nick == "irssiuser" and
                              e.arguments == ["hello from irssi"]), "irssi's line")
            watcher.privmsg("#tour", "hi irssi, from the watcher")
            pump(lambda: "hi irssi, from the watcher" in screen(), "the line on irssi's screen")
            keys("/whois watcher")
            keys("/window 1")  # irssi shows WHOIS replies in its status window
            pump(lambda: "Watcher Bot" in screen(), "the WHOIS reply on irssi's screen")
            keys("/window 2")
            keys("/part #tour")
            pump(lambda: seen("part", lambda e: e.source.nick == "irssiuser"), "irssi's PART")
            keys("/quit bye from irssi")
            deadline = time.monotonic() + 15
            while subprocess.run(tmux + ["has-session", "-t", "irssi"],
                                 capture_output=True).returncode == 0:
                check(time.monotonic() < deadline, "irssi did not exit after /quit")
                reactor.process_once(0.1)
            watcher.disconnect("done")
            rc = server.stop(sig=signal.SIGINT)  # Ctrl-C: the other clean way out
            check(rc == 0, "server exit status %s after SIGINT" % rc)
            check(any("SIGINT, shutting down" in l for l in server.log), "".join(server.log))
            print("irssi against irc_server: CAP, register, join, talk, /whois, /part, /quit: ok")
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
            tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/python3
"""Our irc_client against a real server nobody here wrote: Debian's ngircd, started by
this test on a free loopback port (foreground, its own config in a temp dir, stopped at
the end). A python3-irc bot on the same server watches what the client does.

    /usr/bin/python3 tests/irc/client_ngircd.py path/to/irc_client
"""
import os
import subprocess
import sys
import tempfile
import time

import irc.client

from _ircserver import LineReader, check, free_port, wait_listening, watchdog

NGIRCD = "/usr/sbin/ngircd"
PING = 5  # ngircd's smallest PingTimeout/PongTimeout: an idle client is PINGed after 5 s


def main(client_binary):
    watchdog(90)
    tmp = tempfile.TemporaryDirectory()
    port = free_port()
    conf = os.path.join(tmp.name, "ngircd.conf")
    with open(conf, "w") as f:
        f.write("[Global]\nName = ngircd.test\nInfo = test\nListen = 127.0.0.1\n"
                "Ports = %d\nMotdPhrase = \"hello from ngircd\"\n"
                "[Limits]\nPingTimeout = %d\nPongTimeout = %d\n"
                "[Options]\nPAM = no\nIdent = no\nDNS = no\n" % (port, PING, PING))
    ngircd = subprocess.Popen([NGIRCD, "--nodaemon", "--config", conf],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    client = None
    try:
        wait_listening(port, ngircd)
        client = subprocess.Popen([client_binary, "--port", str(port), "--nick", "gilfree"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        out = LineReader(client.stdout)

        def type_(line):
            client.stdin.write(line + "\n")
            client.stdin.flush()

        out.wait_for(r"^-!- .*Welcome")
        out.wait_for(r"hello from ngircd")  # the MOTD

        reactor = irc.client.IRC()
        events = []
        reactor.add_global_handler("all_events", lambda c, e: events.append(e))
        watcher = reactor.server().connect("127.0.0.1", port, "watcher")

        def pump(pred, what, timeout=15):
            deadline = time.monotonic() + timeout
            while not pred():
                if time.monotonic() > deadline:
                    raise AssertionError("timed out waiting for " + what)
                reactor.process_once(0.05)

        def seen(kind, pred=lambda e: True):
            return [e for e in events if e.type == kind and pred(e)]

        pump(lambda: seen("welcome"), "the watcher's welcome")

        type_("/join #gil")  # the client makes the channel: it is its operator
        out.wait_for(r"^-!- gilfree has joined #gil")
        out.wait_for(r"^-!- Names #gil: @gilfree")
        watcher.join("#gil")
        pump(lambda: seen("endofnames"), "the watcher's join")
        out.wait_for(r"^-!- watcher has joined #gil")

        type_("hello from gilfree")  # a plain line goes to the current channel
        pump(lambda: seen("pubmsg", lambda e: e.arguments == ["hello from gilfree"]
                          and e.source.nick == "gilfree"), "the channel line")
        watcher.privmsg("#gil", "hello back")
        out.wait_for(r"^\[#gil\] <watcher> hello back$")
        watcher.privmsg("gilfree", "psst")
        out.wait_for(r"^\*watcher\* psst$")
        type_("/msg watcher private words")
        pump(lambda: seen("privmsg", lambda e: e.arguments == ["private words"]), "/msg")
        type_("/topic a topic from gilfree")
        pump(lambda: seen("topic", lambda e: e.arguments == ["a topic from gilfree"]), "/topic")
        out.wait_for(r"^-!- gilfree changed the topic of #gil to: a topic from gilfree$")
        type_("/names")
        out.wait_for(r"^-!- Names #gil: .*watcher")

        # Idle past ngircd's ping and pong timeouts: the client must answer PING.
        quiet_until = time.monotonic() + 2 * PING + 1
        pump(lambda: time.monotonic() > quiet_until, "the idle time", 3 * PING)  # the watcher answers its own PINGs
        watcher.privmsg("#gil", "still there?")
        out.wait_for(r"^\[#gil\] <watcher> still there\?$")
        check(client.poll() is None, "the client was dropped (did it answer PING?)")
        check(not any("Ping timeout" in l for l in out.lines), "ping timeout")

        type_("/nick gilfree2")
        pump(lambda: seen("nick", lambda e: e.target == "gilfree2"), "/nick")
        out.wait_for(r"^-!- gilfree is now known as gilfree2$")
        type_("/part #gil see you")
        pump(lambda: seen("part", lambda e: e.source.nick == "gilfree2"), "/part")
        type_("/quit bye now")
        rc = client.wait(15)
        check(rc == 0, "client exit status %s" % rc)
        watcher.disconnect("done")
        print("irc_client against ngircd: join, talk, /msg, /topic, /names, PING, /nick, "
              "/part, /quit: ok")
    finally:
        if client and client.poll() is None:
            client.kill()
            client.wait()
        ngircd.terminate()
        try:
            ngircd.wait(10)
        except subprocess.TimeoutExpired:
            ngircd.kill()
            ngircd.wait()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])

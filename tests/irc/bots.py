#!/usr/bin/python3
"""Debian's python3-irc library (software nobody here wrote) as clients of our server:
several bots register, join, talk in a channel and privately, change topics and modes,
kick, rejoin with a key, rename. Every message that should arrive arrives exactly once
and in order per sender; none arrives where it should not.

    /usr/bin/python3 tests/irc/bots.py path/to/irc_server
"""
import collections
import sys
import time

import irc.client

from _ircserver import OurServer, check, watchdog

BOTS = 6
MESSAGES = 40  # per bot, to the channel and to the next bot


def main(binary):
    watchdog(90)
    with OurServer(binary, "--name", "bots.test") as server:
        reactor = irc.client.IRC()
        events = collections.defaultdict(list)  # bot index -> [Event]

        def record(conn, event):
            events[conn.bot].append(event)
        reactor.add_global_handler("all_events", record)

        def pump(pred, what, timeout=20):
            deadline = time.monotonic() + timeout
            while not pred():
                if time.monotonic() > deadline:
                    raise AssertionError("timed out waiting for " + what)
                reactor.process_once(0.05)

        def seen(i, kind, pred=lambda e: True):
            return [e for e in events[i] if e.type == kind and pred(e)]

        bots = []
        for i in range(BOTS):
            c = reactor.server().connect("127.0.0.1", server.port, "bot%d" % i,
                                         username="b%d" % i, ircname="Bot %d" % i)
            c.bot = i
            bots.append(c)
        pump(lambda: all(seen(i, "welcome") and (seen(i, "endofmotd") or seen(i, "nomotd"))
                         for i in range(BOTS)), "every welcome, then the MOTD or 422")

        # Joins: bot0 first (so it is the channel operator), then the others.
        bots[0].join("#Lobby")
        pump(lambda: seen(0, "endofnames"), "bot0's NAMES")
        for c in bots[1:]:
            c.join("#lobby")  # another case: the same channel
        pump(lambda: len(seen(0, "join")) == BOTS, "every JOIN seen by bot0")
        pump(lambda: all(seen(i, "endofnames") for i in range(BOTS)), "every join done")
        bots[0].names(["#LOBBY"])
        pump(lambda: len(seen(0, "endofnames")) == 2, "bot0's second NAMES")
        names = " ".join(" ".join(e.arguments[2:]) for e in seen(0, "namreply")[1:])
        check(sorted(names.split()) == ["@bot0"] + ["bot%d" % i for i in range(1, BOTS)], names)

        # Traffic: each bot says MESSAGES lines in the channel and as many to the next bot.
        for n in range(MESSAGES):
            for i, c in enumerate(bots):
                c.privmsg("#LOBBY", "chan %d %d" % (i, n))
                c.privmsg("bot%d" % ((i + 1) % BOTS), "pm %d %d" % (i, n))

        def texts(i, kind):
            return [e.arguments[0] for e in seen(i, kind)]
        pump(lambda: all(len(texts(i, "pubmsg")) >= (BOTS - 1) * MESSAGES and
                         len(texts(i, "privmsg")) >= MESSAGES for i in range(BOTS)),
             "all channel and private messages")
        for i in range(BOTS):
            by_sender = collections.defaultdict(list)
            for e in seen(i, "pubmsg"):
                check(e.target.lower() == "#lobby", e.target)
                _, sender, n = e.arguments[0].split()
                check(e.source.nick == "bot" + sender, (e.source, e.arguments))
                by_sender[int(sender)].append(int(n))
            check(i not in by_sender, "bot%d got its own channel message back" % i)
            for sender, ns in by_sender.items():
                check(ns == list(range(MESSAGES)),
                      "bot%d from bot%d: exactly once and in order, got %r" % (i, sender, ns))
            pms = [t.split() for t in texts(i, "privmsg")]
            prev = (i - 1) % BOTS
            check([int(p[2]) for p in pms] == list(range(MESSAGES)) and
                  all(int(p[1]) == prev for p in pms), "bot%d private: %r" % (i, pms))
        print("messages: %d channel + %d private lines, each once and in order"
              % (BOTS * MESSAGES * (BOTS - 1), BOTS * MESSAGES))

        # Topic: +t by default, so bot1 may not; bot0 may; everyone sees it.
        bots[1].topic("#lobby", "from bot1")
        pump(lambda: seen(1, "chanoprivsneeded"), "482 for bot1's TOPIC")
        bots[0].topic("#lobby", "the bots' lounge")
        pump(lambda: all(seen(i, "topic", lambda e: e.arguments == ["the bots' lounge"])
                         for i in range(BOTS)), "TOPIC everywhere")

        # Modes: bot0 makes bot1 an operator; bot1 now kicks bot5.
        bots[0].mode("#lobby", "+o bot1")
        pump(lambda: all(seen(i, "mode", lambda e: e.arguments == ["+o", "bot1"])
                         for i in range(BOTS)), "MODE +o bot1 everywhere")
        bots[1].kick("#lobby", "bot5", "out you go")
        pump(lambda: all(seen(i, "kick", lambda e: e.arguments == ["bot5", "out you go"])
                         for i in range(BOTS)), "KICK everywhere")
        bots[0].privmsg("#lobby", "after the kick")
        pump(lambda: all(seen(i, "pubmsg", lambda e: e.arguments == ["after the kick"])
                         for i in range(1, BOTS - 1)), "the line after the kick")
        bots[5].privmsg("#lobby", "let me in")  # +n: not a member any more
        pump(lambda: seen(5, "cannotsendtochan"), "404 for the kicked bot")
        check(not seen(5, "pubmsg", lambda e: e.arguments == ["after the kick"]),
              "a kicked bot still got channel traffic")

        # A key: without it 475, with it the bot is back.
        bots[0].mode("#lobby", "+k sesame")
        pump(lambda: seen(4, "mode", lambda e: e.arguments == ["+k", "sesame"]), "MODE +k")
        bots[5].join("#lobby")
        pump(lambda: seen(5, "badchannelkey"), "475 without the key")
        bots[5].join("#lobby", "sesame")
        pump(lambda: len(seen(0, "join", lambda e: e.source.nick == "bot5")) == 2, "rejoin")

        # Nick change, seen by everyone who shares the channel.
        bots[2].nick("Renamed2")
        pump(lambda: all(seen(i, "nick", lambda e: e.target == "Renamed2")
                         for i in range(BOTS)), "NICK everywhere")
        bots[3].privmsg("renamed2", "hello under the new name")  # another case
        pump(lambda: seen(2, "privmsg", lambda e: e.arguments == ["hello under the new name"]),
             "a message to the new nick")

        # Everyone quits; the others see each QUIT.
        bots[5].quit("bye")
        pump(lambda: all(seen(i, "quit", lambda e: e.source.nick == "bot5")
                         for i in range(BOTS - 1)), "QUIT everywhere")
        reactor.disconnect_all("done")
        rc = server.stop()
        check(rc == 0, "server exit status %s: %s" % (rc, "".join(server.log)))
    print("bots: %d python3-irc clients: join, talk, topic, mode, kick, key, nick, quit: ok" % BOTS)


if __name__ == "__main__":
    main(sys.argv[1])

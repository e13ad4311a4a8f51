"""CPython's equivalent of examples/000_concurrency_in_python/irc/irc_server, for the
side-by-side load figure in BENCHMARKS.md: the same design (a reader thread per
connection, a writer thread draining a bounded queue.Queue, one threading.Lock over the
shared state), reduced to what the load test uses — CAP, NICK, USER, JOIN, PART, PRIVMSG,
NOTICE, PING, PONG, QUIT (others get 421).

    python3 irc_server.py [--port 6667] [--quiet]

Prints "listening on 127.0.0.1:PORT" to stderr; SIGINT/SIGTERM stop it cleanly.
"""
import queue
import signal
import socket
import sys
import threading

NAME = "irc.cpython.test"
SENDQ = 2048


def casefold(s):
    return s.lower().replace("[", "{").replace("]", "}").replace("\\", "|").replace("^", "~")


def fmt(prefix, command, *params):
    out = (":" + prefix + " " if prefix else "") + command
    for i, p in enumerate(params):
        last = i == len(params) - 1
        out += " " + (":" if last and (len(params) > 1 or not p or " " in p or p[0] == ":") else "") + p
    return (out[:510] + "\r\n").encode("utf-8", "replace")


def parse(line):
    line = line.strip(" ")
    if not line:
        return None
    prefix = ""
    if line[0] == ":":
        prefix, _, line = line[1:].partition(" ")
    if " :" in line:
        head, _, trailing = line.partition(" :")
        words = head.split()
        words.append(trailing)
    else:
        words = line.split()
    if not words:
        return None
    return words[0].upper(), words[1:]


class Client:
    def __init__(self, sock, host):
        self.sock, self.host = sock, host
        self.nick = self.user = ""
        self.registered = False
        self.channels = set()
        self.sendq = queue.Queue(SENDQ)
        self.dead = False

    def prefix(self):
        return "%s!%s@%s" % (self.nick, self.user, self.host)

    def send(self, data):
        try:
            self.sendq.put_nowait(data)
        except queue.Full:
            self.kill()

    def kill(self):
        if not self.dead:
            self.dead = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server:
    def __init__(self, port, quiet):
        self.lock = threading.Lock()
        self.nicks, self.channels, self.clients = {}, {}, set()
        self.quiet = quiet
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.threads = []
        self.stopping = False

    def reply(self, c, code, *params):
        c.send(fmt(NAME, code, c.nick or "*", *params))

    def accept_loop(self):
        while True:
            try:
                sock, addr = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Client(sock, addr[0])
            with self.lock:
                self.clients.add(c)
            w = threading.Thread(target=self.writer, args=(c,), daemon=True)
            r = threading.Thread(target=self.reader, args=(c, w), daemon=True)
            w.start()
            r.start()
            self.threads.append(r)

    def writer(self, c):
        while True:
            data = c.sendq.get()
            if data is None:
                return
            chunks = [data]
            while len(chunks) < 64:
                try:
                    more = c.sendq.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    c.sendq.put(None)
                    break
                chunks.append(more)
            try:
                c.sock.sendall(b"".join(chunks))
            except OSError:
                c.kill()
                return

    def reader(self, c, writer):
        buf = b""
        reason = "Connection closed"
        try:
            while not c.dead:
                data = c.sock.recv(16384)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    msg = parse(line[:510].rstrip(b"\r").decode("utf-8", "replace"))
                    if msg:
                        with self.lock:
                            r = self.handle(c, *msg)
                        if r is not None:
                            reason = r
                            c.dead = True
                            break
        except OSError:
            pass
        with self.lock:
            self.remove(c, reason)
        try:
            c.sendq.put(fmt("", "ERROR", "Closing Link: %s (%s)" % (c.host, reason)), timeout=1)
            c.sendq.put(None, timeout=1)
        except queue.Full:
            c.kill()
        writer.join(2)
        if writer.is_alive():
            c.kill()
            writer.join()
        c.sock.close()

    def to_channel(self, ch, data, skip=None):
        for m in self.channels[ch]["members"]:
            if m is not skip:
                m.send(data)

    def remove(self, c, reason):
        self.clients.discard(c)
        seen = {c}
        for ch in c.channels:
            members = self.channels[ch]["members"]
            members.pop(c, None)
            if c.registered:
                for m in members:
                    if m not in seen:
                        seen.add(m)
                        m.send(fmt(c.prefix(), "QUIT", reason))
            if not members:
                del self.channels[ch]
        if c.nick and self.nicks.get(casefold(c.nick)) is c:
            del self.nicks[casefold(c.nick)]

    def handle(self, c, cmd, params):
        if cmd == "QUIT":
            return "Quit: " + params[0] if params else "Client Quit"
        if cmd == "PING":
            c.send(fmt(NAME, "PONG", NAME, params[0] if params else ""))
        elif cmd in ("PONG",):
            pass
        elif cmd == "CAP":
            if params and params[0].upper() == "LS":
                c.send(fmt(NAME, "CAP", "*", "LS", ""))
        elif cmd == "NICK":
            if not params:
                return self.reply(c, "431", "No nickname given")
            key = casefold(params[0])
            if key in self.nicks and self.nicks[key] is not c:
                return self.reply(c, "433", params[0], "Nickname is already in use")
            if c.nick:
                self.nicks.pop(casefold(c.nick), None)
            self.nicks[key] = c
            c.nick = params[0]
            self.try_register(c)
        elif cmd == "USER":
            if len(params) < 4:
                return self.reply(c, "461", "USER", "Not enough parameters")
            c.user = params[0]
            self.try_register(c)
        elif not c.registered:
            self.reply(c, "451", "You have not registered")
        elif cmd == "JOIN" and params:
            for name in params[0].split(","):
                key = casefold(name)
                ch = self.channels.setdefault(key, {"name": name, "members": {}})
                if c in ch["members"]:
                    continue
                ch["members"][c] = not ch["members"]
                c.channels.add(key)
                self.to_channel(key, fmt(c.prefix(), "JOIN", ch["name"]))
                names = " ".join(("@" if op else "") + m.nick for m, op in ch["members"].items())
                self.reply(c, "353", "=", ch["name"], names)
                self.reply(c, "366", ch["name"], "End of /NAMES list")
        elif cmd == "PART" and params:
            for name in params[0].split(","):
                key = casefold(name)
                if key in c.channels:
                    self.to_channel(key, fmt(c.prefix(), "PART", self.channels[key]["name"]))
                    del self.channels[key]["members"][c]
                    c.channels.discard(key)
                    if not self.channels[key]["members"]:
                        del self.channels[key]
        elif cmd in ("PRIVMSG", "NOTICE") and len(params) >= 2:
            for target in params[0].split(","):
                key = casefold(target)
                if target[:1] in "#&":
                    if key in c.channels:
                        self.to_channel(key, fmt(c.prefix(), cmd, self.channels[key]["name"], params[1]), c)
                    elif cmd == "PRIVMSG":
                        self.reply(c, "404", target, "Cannot send to channel")
                elif key in self.nicks:
                    self.nicks[key].send(fmt(c.prefix(), cmd, self.nicks[key].nick, params[1]))
                elif cmd == "PRIVMSG":
                    self.reply(c, "401", target, "No such nick/channel")
        else:
            self.reply(c, "421", cmd, "Unknown command")
        return None

    def try_register(self, c):
        if not c.registered and c.nick and c.user:
            c.registered = True
            self.reply(c, "001", "Welcome to the Internet Relay Network " + c.prefix())
            self.reply(c, "422", "MOTD File is missing")

    def stop(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        with self.lock:
            for c in list(self.clients):
                c.send(fmt("", "ERROR", "Closing Link: %s (Server shutting down)" % NAME))
                try:
                    c.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
        for t in self.threads:
            t.join()


def main():
    port, quiet = 6667, False
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--port":
            port = int(args.pop(0))
        elif a == "--quiet":
            quiet = True
    # Blocked before any thread starts (threads inherit the mask); main waits for them.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    server = Server(port, quiet)
    acceptor = threading.Thread(target=server.accept_loop, daemon=True)
    acceptor.start()
    print("irc_server.py: listening on 127.0.0.1:%d" % server.port, file=sys.stderr, flush=True)
    signal.sigwait(stop_signals)
    server.stop()
    acceptor.join()


if __name__ == "__main__":
    main()

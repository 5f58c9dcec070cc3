"""Open vSwitch's python `ovs.jsonrpc` as a SERVER for the Rust client in
tests/peer_ovs.rs.

Usage: /usr/bin/python3 ovs_server.py LISTEN

LISTEN is what ovs.stream.PassiveStream.open takes: "punix:PATH", or
"ptcp:IP:PORT" (the python library reads ptcp as IP then PORT; port 0 picks
a free one). Prints `LISTENING <remote>` (unix:PATH or tcp:IP:PORT) once it
listens, accepts one connection, serves it with ovs.jsonrpc.Connection until
the client says "bye" and closes, and prints one `RESULT {...}` line.

Methods, answered the way ovsdb-server answers:
  echo [..]          the params back (ovsdb-server's echo; counts probes)
  add [a, b]         a + b
  info []            an object
  concat [s, ..]     the strings joined
  big [n]            a string of n "z"
  len [s]            the length of s, in characters
  fail_string []     error "not allowed"
  fail_object []     error {"error": "constraint violation", "details": ..}
  notify_me [tag]    sends notification update [tag, {"seen": true}], then
                     answers "ok"
  call_me [x]        calls the client: echo [x, "from-ovs"], mul [6, 7],
                     refuse [], unknown_on_rust []; answers with what came
                     back, each as {"result": ..} or {"error": ..}
  notes []           the notifications received so far, as [method, params]
  probe_count []     how many echo requests arrived
  bye []             answers "bye", then waits for the client to close
  anything else      error "unknown method", as ovsdb-server answers
"""

import errno
import sys

import ovs.jsonrpc
import ovs.stream
import ovs.timeval
import ovs.version

import peerlib
from peerlib import Fatal, Message


class Closed(Exception):
    def __init__(self, status):
        Exception.__init__(self, peerlib.errno_name(status))
        self.status = status


class Server(object):
    def __init__(self, report, name):
        self.report = report
        error, self.pstream = ovs.stream.PassiveStream.open(name)
        if error:
            raise Fatal("PassiveStream.open(%s): %s"
                        % (name, peerlib.errno_name(error)))
        if name.startswith("ptcp:"):
            ip, port = self.pstream.socket.getsockname()[:2]
            remote = "tcp:%s:%d" % (ip, port)
        else:
            remote = "unix:" + name[len("punix:"):]
        peerlib.say("LISTENING " + remote)

        deadline = peerlib.deadline_after()
        while True:
            error, stream = self.pstream.accept()
            if not error:
                break
            if error != errno.EAGAIN:
                raise Fatal("accept: %s" % peerlib.errno_name(error))
            if ovs.timeval.msec() > deadline:
                raise Fatal("no client connected")
            peerlib.block(self.pstream.wait, deadline)
        self.conn = ovs.jsonrpc.Connection(stream)
        self.notifications = []
        self.echoes = []
        self.request_ids = []
        self.replies = {}
        self.said_bye = False

    def _wait(self, poller):
        self.conn.wait(poller)
        self.conn.recv_wait(poller)

    def pump(self, deadline):
        """Handles one message, or blocks until there may be one."""
        self.conn.run()
        error, msg = self.conn.recv()
        if error == errno.EAGAIN:
            if ovs.timeval.msec() > deadline:
                raise Fatal("timed out waiting for the client")
            peerlib.block(self._wait, deadline)
        elif error:
            raise Closed(error)
        else:
            self.handle(msg)

    def send(self, msg):
        error = self.conn.send(msg)
        if error:
            raise Fatal("send failed: %s" % peerlib.errno_name(error))

    def handle(self, msg):
        if msg.type == Message.T_NOTIFY:
            self.notifications.append([msg.method, msg.params])
        elif msg.type == Message.T_REQUEST:
            self.request_ids.append(msg.id)
            self.send(self.answer(msg))
        else:
            self.replies[msg.id] = msg

    def answer(self, msg):
        p = msg.params
        reply = lambda result: Message.create_reply(result, msg.id)
        error = lambda value: Message.create_error(value, msg.id)
        if msg.method == "echo":
            self.echoes.append([msg.id, p])
            return reply(p)
        if msg.method == "add":
            return reply(p[0] + p[1])
        if msg.method == "info":
            return reply({"server": "ovs.jsonrpc",
                          "version": ovs.version.VERSION,
                          "list": [1, 2, 3],
                          "nested": {"ok": True, "none": None}})
        if msg.method == "concat":
            return reply("".join(p))
        if msg.method == "big":
            return reply("z" * p[0])
        if msg.method == "len":
            return reply(len(p[0]))
        if msg.method == "fail_string":
            return error("not allowed")
        if msg.method == "fail_object":
            return error({"error": "constraint violation",
                          "details": "a row would violate the index"})
        if msg.method == "notify_me":
            self.send(Message.create_notify("update", [p[0], {"seen": True}]))
            return reply("ok")
        if msg.method == "call_me":
            return reply(self.call_client(p[0]))
        if msg.method == "notes":
            return reply(list(self.notifications))
        if msg.method == "probe_count":
            return reply(len(self.echoes))
        if msg.method == "bye":
            self.said_bye = True
            return reply("bye")
        return error("unknown method")

    def call_client(self, x):
        """Sends four requests to the client at once and waits for all four
        replies, serving whatever else arrives meanwhile."""
        calls = [("echo", [x, "from-ovs"]), ("mul", [6, 7]),
                 ("refuse", []), ("unknown_on_rust", [])]
        sent = []
        for method, params in calls:
            request = Message.create_request(method, params)
            self.send(request)
            sent.append((method, request.id))
        deadline = peerlib.deadline_after()
        while any(i not in self.replies for _, i in sent):
            self.pump(deadline)
        outcome = {}
        for method, i in sent:
            r = self.replies.pop(i)
            if r.type == Message.T_REPLY:
                outcome[method] = {"result": r.result}
            else:
                outcome[method] = {"error": r.error}
        key = {"unknown_on_rust": "unknown"}
        return dict((key.get(k, k), v) for k, v in outcome.items())

    def serve(self):
        deadline = peerlib.deadline_after(30000)
        try:
            while True:
                self.pump(deadline)
        except Closed as e:
            return e.status

    def close(self):
        self.conn.close()
        self.pstream.close()


def main():
    peerlib.setup(60)
    report = peerlib.Report()
    try:
        server = Server(report, sys.argv[1])
        status = server.serve()
        report.check("close_status", peerlib.errno_name(status), "EOF")
        report.expect("said_bye", server.said_bye,
                      "the client closed before calling bye")
        report.note("notifications", server.notifications)
        report.note("echoes", server.echoes)
        report.expect("request_ids_are_integers",
                      all(isinstance(i, int) for i in server.request_ids),
                      server.request_ids)
        server.close()
    except Fatal as e:
        report.finish(fatal=e)
    report.finish()


if __name__ == "__main__":
    main()

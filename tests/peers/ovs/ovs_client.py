"""Open vSwitch's python `ovs.jsonrpc` as a CLIENT of the Rust server in
tests/peer_ovs.rs.

Usage: /usr/bin/python3 ovs_client.py CONFIG_JSON

CONFIG_JSON members:
  remote                "unix:PATH" or "tcp:IP:PORT"
  probe_interval        ms for ovs.jsonrpc.Session's own echo probe (0: off;
                        the library never probes over unix: sockets)
  idle_ms               how long to sit idle at the end, pumping the session,
                        so inactivity probes (ours and the server's) run
  callbacks             true: the server calls us back (echo, py.add, py.fail)
                        and notifies us; we announce "READY" on stdout and
                        wait for the server's out-of-band calls, ended by a
                        "push_done" notification
  unknown_method_error  the exact error value the server must answer an
                        unknown method with
  null_result_check     true: finally, on a second connection made with
                        Stream.open_block + Connection, call a method whose
                        result is JSON null and record what the library does

The main connection is an ovs.jsonrpc.Session, as OVS's python IDL uses:
it answers "echo" requests by itself and hides the replies to its own
echo probes. Prints one `RESULT {...}` line; exits 1 on any mismatch.
"""

import errno
import json
import sys

import ovs.jsonrpc
import ovs.stream
import ovs.timeval

import peerlib
from peerlib import Fatal, Message

STRING = "h\u00e9llo w\u00f6rld \u2603 \"quoted\" \\ \n\t\u0001"

# What the Rust server's `shape` method answers for each name.
SHAPES = {
    "object": {"name": "rust", "list": [1, 2.5, "three", True, None],
               "nested": {"empty": {}, "arr": []}},
    "array": [1, "two", [3], {"four": 4}],
    "string": STRING,
    "false": False,
    "true": True,
    "zero": 0,
    "float": 2.5,
    # Our server sends 2.0; OVS's JSON parser reads any number without a
    # fractional part as an integer.
    "integral_float": 2,
    "big_int": 9007199254740993,
    "negative": -1234567890123,
    "empty_object": {},
    "empty_array": [],
}


class Client(object):
    def __init__(self, report, remote, probe_interval):
        self.report = report
        self.session = ovs.jsonrpc.Session.open(remote, probe_interval)
        self.replies = {}
        # Everything that arrived, in order: ["notification", method,
        # params] and ["reply", id].
        self.events = []
        self.notifications = []
        self.requests = []
        deadline = peerlib.deadline_after()
        while True:
            self.session.run()
            if self.session.is_connected():
                break
            if ovs.timeval.msec() > deadline:
                raise Fatal("could not connect to %s" % remote)
            peerlib.block(self.session.wait, deadline)
        self.seqno = self.session.get_seqno()

    def _wait(self, poller):
        self.session.wait(poller)
        self.session.recv_wait(poller)

    def pump(self, deadline):
        """Handles at most one message, or blocks until there may be one."""
        rpc = self.session.rpc
        if rpc is not None and rpc.get_status():
            raise Fatal("connection failed: %s"
                        % peerlib.errno_name(rpc.get_status()))
        self.session.run()
        if (not self.session.is_connected()
                or self.session.get_seqno() != self.seqno):
            raise Fatal("the session lost its connection")
        msg = self.session.recv()
        if msg is not None:
            self.handle(msg)
            return
        if ovs.timeval.msec() > deadline:
            raise Fatal("timed out waiting for the server")
        peerlib.block(self._wait, deadline)

    def handle(self, msg):
        if msg.type == Message.T_NOTIFY:
            self.events.append(["notification", msg.method, msg.params])
            self.notifications.append([msg.method, msg.params])
        elif msg.type == Message.T_REQUEST:
            # "echo" never gets here: the Session answers it itself.
            self.requests.append([msg.method, msg.params])
            if msg.method == "py.add":
                reply = Message.create_reply(sum(msg.params), msg.id)
            elif msg.method == "py.fail":
                detail = msg.params[0] if msg.params else None
                reply = Message.create_error(
                    {"error": "py says no", "details": detail}, msg.id)
            else:
                reply = Message.create_error("unknown method", msg.id)
            self.session.send(reply)
        else:
            self.events.append(["reply", msg.id])
            self.replies[msg.id] = msg

    def call(self, method, params):
        request = Message.create_request(method, params)
        self.last_id = request.id
        error = self.session.send(request)
        if error:
            raise Fatal("send failed: %s" % peerlib.errno_name(error))
        deadline = peerlib.deadline_after()
        while request.id not in self.replies:
            self.pump(deadline)
        return self.replies.pop(request.id)

    def notify(self, method, params):
        error = self.session.send(Message.create_notify(method, params))
        if error:
            raise Fatal("send failed: %s" % peerlib.errno_name(error))

    def wait_until(self, condition, what):
        deadline = peerlib.deadline_after()
        while not condition():
            try:
                self.pump(deadline)
            except Fatal as e:
                raise Fatal("%s (waiting for %s)" % (e, what))

    def idle(self, ms):
        """Keeps the session running for `ms` milliseconds, handling whatever
        arrives (probes included)."""
        until = ovs.timeval.msec() + ms
        while ovs.timeval.msec() < until:
            rpc = self.session.rpc
            if rpc is not None and rpc.get_status():
                raise Fatal("connection failed while idle: %s"
                            % peerlib.errno_name(rpc.get_status()))
            self.session.run()
            msg = self.session.recv()
            if msg is not None:
                self.handle(msg)
            else:
                peerlib.block(self._wait, until)

    def close(self):
        self.session.close()


def result_of(report, what, reply, expected):
    """Checks a successful reply's result."""
    report.check(what + ".type", peerlib.kind(reply), "reply")
    report.check(what, reply.result, expected)


def error_of(report, what, reply, expected):
    """Checks an error reply's error value (and that it has no result)."""
    report.check(what + ".type", peerlib.kind(reply), "error")
    report.check(what + ".result", reply.result, None)
    report.check(what, reply.error, expected)


def main_flow(report, cfg):
    client = Client(report, cfg["remote"], cfg["probe_interval"])

    # Results of many JSON shapes.
    result_of(report, "add", client.call("add", [19, 23]), 42)
    for name, expected in sorted(SHAPES.items()):
        result_of(report, "shape." + name, client.call("shape", [name]),
                  expected)
    params = ["a", 1, {"k": [None, False]}, [], STRING]
    result_of(report, "echo", client.call("echo", params), params)

    # A large message each way: both sides must reassemble it from many reads.
    blob = ("\u00e9" + "x" * 99) * 2000
    reply = client.call("big", [150000, blob])
    report.check("big.type", peerlib.kind(reply), "reply")
    result = reply.result if isinstance(reply.result, dict) else {}
    report.check("big.received_chars", result.get("received_chars"),
                 len(blob))
    report.expect("big.blob", result.get("blob") == "z" * 150000,
                  "blob of %s chars" % len(result.get("blob") or ""))

    # Notifications to the server (the Rust test checks it got them).
    client.notify("note", ["first", 1])
    client.notify("note", ["second", {"k": "v"}])
    client.notify("note", [])

    # Errors.
    error_of(report, "unknown_method", client.call("no_such_method", [1]),
             cfg["unknown_method_error"])
    reply = client.call("add", ["x"])
    report.check("bad_params.type", peerlib.kind(reply), "error")
    error = reply.error if isinstance(reply.error, dict) else {}
    report.check("bad_params.code", error.get("code"), -32602)
    report.expect("bad_params.message",
                  str(error.get("message", "")).startswith("Invalid params"),
                  reply.error)
    error_of(report, "fail_string", client.call("fail_string", []),
             "not allowed")
    error_of(report, "fail_object", client.call("fail_object", []),
             {"error": "constraint violation",
              "details": "a row would violate the index"})
    error_of(report, "fail_array", client.call("fail_array", []),
             ["busy", 3])
    error_of(report, "fail_number", client.call("fail_number", []), 7)
    error_of(report, "fail_standard", client.call("fail_standard", []),
             {"code": -32001, "message": "custom failure",
              "data": {"why": "testing"}})

    if cfg["callbacks"]:
        # The server, while serving our request, calls us back.
        result_of(report, "ask_back", client.call("ask_back", ["tag-1"]),
                  {"echo": ["ping", "tag-1"], "add": 42,
                   "fail": {"error": "py says no", "details": "tag-1"}})
        # A notification sent by the handler before it replies arrives
        # before the reply (OVSDB's update-before-transact-reply).
        result_of(report, "subscribe", client.call("subscribe", ["mon-1"]),
                  "subscribed")
        update = ["notification", "update", ["mon-1", {"row": {"n": 1}}]]
        reply_event = ["reply", client.last_id]
        report.expect("subscribe.order",
                      update in client.events and reply_event in client.events
                      and client.events.index(update)
                      < client.events.index(reply_event),
                      client.events)

        # Calls and notifications the server makes outside any request.
        peerlib.say("READY")
        client.wait_until(
            lambda: ["push_done", []] in client.notifications, "push_done")
        report.check("pushed_notifications",
                     [n for n in client.notifications
                      if n[0] in ("server_push", "push_done")],
                     [["server_push", ["hello", 1]], ["push_done", []]])

    if cfg["idle_ms"]:
        client.idle(cfg["idle_ms"])
        report.expect("idle.still_connected",
                      client.session.is_connected()
                      and client.session.get_seqno() == client.seqno,
                      "the session reconnected or dropped while idle")

    report.note("notifications", client.notifications)
    report.note("requests", client.requests)
    report.check("requests_seen", client.requests,
                 [["py.add", [20, 22]], ["py.fail", ["tag-1"]],
                  ["py.add", [1, 2]], ["py.fail", ["out-of-band"]]]
                 if cfg["callbacks"] else [])
    client.close()


def null_result_flow(report, cfg):
    """A second connection, with the lower-level API: Stream.open_block and
    Connection.transact_block."""
    error, stream = ovs.stream.Stream.open_block(
        ovs.stream.Stream.open(cfg["remote"]), peerlib.STEP_MS)
    if error:
        raise Fatal("Stream.open_block: %s" % peerlib.errno_name(error))
    conn = ovs.jsonrpc.Connection(stream)
    error, reply = conn.transact_block(Message.create_request("add", [2, 3]))
    report.check("connection.add.error", peerlib.errno_name(error), "ok")
    if reply is not None:
        result_of(report, "connection.add", reply, 5)
    # `{"id":N,"result":null,"error":null}`: the library reads a reply by
    # which of result/error is non-null, so a null result reads as a request
    # without "method", and the connection fails with EPROTO.
    error, reply = conn.transact_block(Message.create_request("nothing", []))
    report.check("connection.null_result.error", peerlib.errno_name(error),
                 "EPROTO")
    report.check("connection.null_result.reply", reply, None)
    conn.close()


def main():
    peerlib.setup(60)
    cfg = json.loads(sys.argv[1])
    report = peerlib.Report()
    try:
        main_flow(report, cfg)
        if cfg.get("null_result_check"):
            null_result_flow(report, cfg)
    except Fatal as e:
        report.finish(fatal=e)
    report.finish()


if __name__ == "__main__":
    main()

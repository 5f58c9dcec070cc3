"""SPDK's python JSON-RPC client against our server, for tests/peer_spdk.rs.

Run with the peer venv's python (target/peers/venv/bin/python, filled by
scripts/install/spdk.sh):

    spdk_peer.py check                  the client imports, or exit 3
    spdk_peer.py client SOCK            JSONRPCClient: many calls, errors, batch
    spdk_peer.py pipeline SOCK          requests written back to back, replies matched by id
    spdk_peer.py half-close SOCK N      N requests, shutdown(SHUT_WR), read to EOF

The server is the test's: the JSON-RPC 2.0 spec methods (subtract, sum,
get_data, notifications update/notify_hello/notify_sum) plus SPDK-shaped ones
(spdk_get_version, bdev_malloc_create, test_sleep). Every check is an
`assert` here, so any mismatch exits non-zero with a traceback; on success
the last line of stdout is `SUMMARY <json>` with counts the Rust test checks
again.
"""

import json
import signal
import socket
import sys
import time

VERSION = {
    "version": "SPDK v26.09-pre",
    "fields": {"major": 26, "minor": 9, "patch": 0, "suffix": "-pre"},
}
# No single run may outlive this, whatever the server does.
HARD_LIMIT_SECONDS = 60
IO_TIMEOUT_SECONDS = 20.0


def summary(**counts):
    print("SUMMARY " + json.dumps(counts), flush=True)


def same(got, want, what):
    assert got == want, "%s: want %r, got %r" % (what, want, got)


def error_of(exc):
    """The error object in a JSONRPCException raised by JSONRPCClient.call.

    The client does not keep the reply; its message ends with
    "response:\\n" and the error object dumped with indent=2.
    """
    text = exc.message
    marker = "Got JSON-RPC error response\nresponse:\n"
    assert marker in text, "not an error-response exception: %r" % text
    return json.loads(text.split(marker, 1)[1])


def expect_error(call, code, message=None):
    from spdk.rpc.client import JSONRPCException

    try:
        got = call()
    except JSONRPCException as e:
        err = error_of(e)
        assert err["code"] == code, "want code %d, got %r" % (code, err)
        if message is not None:
            assert err["message"] == message, "want message %r, got %r" % (message, err)
        return err
    raise AssertionError("want error %d, got result %r" % (code, got))


# ---------------------------------------------------------------- requests


def request(method, req_id, params=None):
    """A request the way JSONRPCClient builds one (params left out if empty)."""
    req = {"jsonrpc": "2.0", "method": method}
    if req_id is not None:
        req["id"] = req_id
    if params:
        req["params"] = params
    return req


def pretty(msg):
    """JSONRPCClient's wire form: indent=2, no trailing delimiter."""
    return json.dumps(msg, indent=2).encode("utf-8")


def mixed_call(i, fresh_name):
    """Call number i of a varied sequence: (method, params, expectation).

    An expectation is ("result", value) or ("error", code, message-or-None).
    """
    kind = i % 8
    if kind == 0:
        return "subtract", [i, 7], ("result", i - 7)
    if kind == 1:
        return "subtract", {"subtrahend": -i, "minuend": i}, ("result", 2 * i)
    if kind == 2:
        numbers = list(range(1, i % 13 + 2))
        return "sum", numbers, ("result", sum(numbers))
    if kind == 3:
        return "get_data", None, ("result", ["hello", 5])
    if kind == 4:
        return "spdk_get_version", None, ("result", VERSION)
    if kind == 5:
        name = fresh_name(i)
        return (
            "bdev_malloc_create",
            {"num_blocks": 16 + i, "block_size": 512, "name": name},
            ("result", name),
        )
    if kind == 6:
        return "bdev_no_such_method", {"name": "x"}, ("error", -32601, None)
    # An SPDK-style failure: a name created before the run -> -EEXIST.
    return (
        "bdev_malloc_create",
        {"num_blocks": 8, "block_size": 512, "name": "Existing0"},
        ("error", -17, "File exists"),
    )


def check_reply(reply, expectation, what):
    assert reply.get("jsonrpc") == "2.0", "%s: reply lacks jsonrpc 2.0: %r" % (what, reply)
    if expectation[0] == "result":
        assert "error" not in reply, "%s: unexpected error %r" % (what, reply)
        assert reply["result"] == expectation[1], "%s: want %r, got %r" % (
            what,
            expectation[1],
            reply,
        )
    else:
        _, code, message = expectation
        assert "result" not in reply, "%s: want error %d, got %r" % (what, code, reply)
        assert reply["error"]["code"] == code, "%s: want code %d, got %r" % (what, code, reply)
        if message is not None:
            assert reply["error"]["message"] == message, "%s: got %r" % (what, reply)


def id_key(req_id):
    """Distinguishes 1 from "1" when matching replies by id."""
    return json.dumps(req_id)


class RawReader:
    """Reads back-to-back JSON values from a socket the way JSONRPCClient
    does (lstrip, then raw_decode), without its CPU-time timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = ""
        self.pending = b""
        self.decoder = json.JSONDecoder()
        self.eof = False

    def _decode_one(self):
        text = self.buf.lstrip()
        if not text:
            self.buf = ""
            return None
        try:
            obj, end = self.decoder.raw_decode(text)
        except ValueError:
            return None
        self.buf = text[end:]
        return obj

    def next(self):
        """The next value, or None at EOF (with nothing left over)."""
        while True:
            obj = self._decode_one()
            if obj is not None:
                return obj
            if self.eof:
                assert not self.buf.strip() and not self.pending, (
                    "EOF inside a reply: %r" % (self.buf + self.pending.decode("utf-8", "replace"))
                )
                return None
            data = self.sock.recv(65536)
            if not data:
                self.eof = True
                continue
            self.pending += data
            try:
                self.buf += self.pending.decode("utf-8")
                self.pending = b""
            except UnicodeDecodeError:
                pass  # a character split across reads; wait for the rest


def raw_socket(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(IO_TIMEOUT_SECONDS)
    sock.connect(path)
    return sock


def send_in_pieces(sock, data, sizes=(1, 7, 64, 3, 500, 2)):
    """Writes data in uneven pieces, so requests arrive split anywhere."""
    pos, n = 0, 0
    while pos < len(data):
        size = sizes[n % len(sizes)]
        sock.sendall(data[pos : pos + size])
        pos += size
        n += 1


def create_existing(path):
    """Creates the bdev that later calls collide with, over its own connection."""
    from spdk.rpc.client import JSONRPCClient

    with JSONRPCClient(path, timeout=IO_TIMEOUT_SECONDS) as c:
        got = c.bdev_malloc_create(num_blocks=8, block_size=512, name="Existing0")
        same(got, "Existing0", "creating Existing0")


# ---------------------------------------------------------------- commands


def cmd_check():
    try:
        from spdk.rpc.client import JSONRPCClient, JSONRPCException  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any failure means "not installed"
        print("cannot import spdk.rpc.client: %r" % e, file=sys.stderr)
        sys.exit(3)
    import importlib.metadata

    summary(spdk=importlib.metadata.version("spdk"))


def cmd_client(path, calls):
    """One JSONRPCClient connection: `calls` sequential calls with every kind
    of params, SPDK-style errors, then a batch on a second connection."""
    from spdk.rpc.client import JSONRPCClient

    create_existing(path)
    errors = 0
    with JSONRPCClient(path, timeout=IO_TIMEOUT_SECONDS) as c:
        sock = c.sock
        fileno = sock.fileno()

        # The client leaves params out when there are none: spdk_get_version
        # (which, like SPDK's, refuses even `{}`) answers.
        same(c.spdk_get_version(), VERSION, "spdk_get_version()")
        same(c.call("spdk_get_version"), VERSION, "call('spdk_get_version')")

        for i in range(calls):
            method, params, want = mixed_call(i, lambda n: "Seq%d" % n)
            if want[0] == "result":
                if isinstance(params, dict) and i % 3 == 0:
                    # Named params through the client's attribute API, as
                    # spdk-rpc's command modules call it.
                    got = getattr(c, method)(**params)
                else:
                    got = c.call(method, params)
                assert got == want[1], "call %d %s(%r): want %r, got %r" % (
                    i,
                    method,
                    params,
                    want[1],
                    got,
                )
            else:
                # The client's error path stores into params, so it needs a dict.
                expect_error(lambda: c.call(method, dict(params)), want[1], want[2])
                errors += 1
            assert c.sock is sock and sock.fileno() == fileno, "the client reconnected"

        # SPDK-shaped calls: the bdev name comes back; an unnamed malloc bdev
        # gets the lowest free MallocN; a duplicate is -17 "File exists".
        got = c.bdev_malloc_create(num_blocks=131072, block_size=512, name="Malloc0")
        same(got, "Malloc0", "named bdev_malloc_create")
        got = c.bdev_malloc_create(num_blocks=64, block_size=4096)
        same(got, "Malloc1", "unnamed bdev_malloc_create")
        err = expect_error(
            lambda: c.bdev_malloc_create(num_blocks=1, block_size=512, name="Malloc0"),
            -17,
            "File exists",
        )
        assert set(err) == {"code", "message"}, "extra members in %r" % err
        # Params are decoded strictly, as SPDK does: an unknown key or a number
        # sent as a string is an error, and the connection goes on.
        expect_error(
            lambda: c.bdev_malloc_create(num_blocks=1, block_size=512, bogus=True),
            -32603,
            "spdk_json_decode_object failed",
        )
        expect_error(
            lambda: c.bdev_malloc_create(num_blocks="1", block_size=512),
            -32603,
            "spdk_json_decode_object failed",
        )
        expect_error(lambda: c.call("foobar"), -32601)
        errors += 5
        # Unicode survives both ways.
        got = c.bdev_malloc_create(num_blocks=1, block_size=512, name="Mällöc-ü")
        same(got, "Mällöc-ü", "non-ASCII name")
        same(c.spdk_get_version(), VERSION, "spdk_get_version() at the end")
        assert c.sock is sock, "the client reconnected"
        total = c._request_id  # the client's own count of requests sent

    # Batch mode: the client sends one pretty-printed JSON array.
    with JSONRPCClient(path, timeout=IO_TIMEOUT_SECONDS, batch_mode=True) as b:
        results, batch_errors = b.call_batch(
            [
                {"method": "subtract", "params": [5, 3]},
                {"method": "spdk_get_version"},
                {"method": "bdev_malloc_create", "params": {"num_blocks": 1, "block_size": 512, "name": "Malloc0"}},
                {"method": "sum", "params": [1, 2, 4]},
            ]
        )
    same(results, [2, VERSION, 7], "batch results")
    same(batch_errors, [{"code": -17, "message": "File exists"}], "batch errors")

    summary(calls=total, errors=errors, batch=len(results) + len(batch_errors))


def cmd_pipeline(path):
    """Requests written back to back before any reply is read."""
    from spdk.rpc.client import JSONRPCClient

    create_existing(path)

    # 1. The client's own lower-level API: add_request queues, send_batch
    #    writes them all at once (newline-joined, indent=2), recv reads one
    #    reply at a time. The client does not match ids; we do.
    queued = 40
    with JSONRPCClient(path, timeout=IO_TIMEOUT_SECONDS) as c:
        want = {}
        for i in range(queued):
            method, params, expectation = mixed_call(i, lambda n: "Queued%d" % n)
            want[id_key(c.add_request(method, params))] = (expectation, method)
        assert c.send_batch() is True
        seen = {}
        for _ in range(queued):
            reply = c.recv()
            key = id_key(reply.get("id"))
            assert key in want, "reply with an id we never sent: %r" % reply
            assert key not in seen, "two replies for id %s" % key
            seen[key] = reply
        for key, (expectation, method) in want.items():
            check_reply(seen[key], expectation, "queued %s id %s" % (method, key))

    # 2. A raw socket, pretty-printed requests with no delimiter at all,
    #    written in uneven pieces; string and number ids; notifications, which
    #    must get no reply; a slow call first, so replies may overtake it.
    count = 64
    want = {}
    stream = b""
    slow = request("test_sleep", "slow", {"ms": 300})
    stream += pretty(slow)
    want[id_key("slow")] = (("result", 300), "test_sleep")
    for i in range(count):
        req_id = i if i % 2 else "req-%d" % i
        method, params, expectation = mixed_call(i, lambda n: "Raw%d" % n)
        stream += pretty(request(method, req_id, params))
        want[id_key(req_id)] = (expectation, method)
        if i % 10 == 0:
            stream += pretty(request("update", None, [1, 2, 3, 4, 5]))
            stream += pretty(request("subtract", None, [i, 1]))  # a method, as a notification
    # SPDK's spdk_get_version refuses any params, even `{}`.
    stream += pretty({"jsonrpc": "2.0", "method": "spdk_get_version", "params": {}, "id": "v{}"})
    want[id_key("v{}")] = (("error", -32602, None), "spdk_get_version")
    sock = raw_socket(path)
    send_in_pieces(sock, stream)
    reader = RawReader(sock)
    order = []
    seen = {}
    while len(seen) < len(want):
        reply = reader.next()
        assert reply is not None, "EOF after %d of %d replies" % (len(seen), len(want))
        assert isinstance(reply, dict), "not a single reply: %r" % reply
        key = id_key(reply.get("id"))
        assert key in want, "reply with an id we never sent (a notification's?): %r" % reply
        assert key not in seen, "two replies for id %s" % key
        seen[key] = reply
        order.append(key)
    for key, (expectation, method) in want.items():
        check_reply(seen[key], expectation, "raw %s id %s" % (method, key))
    # Nothing more may come: a reply to a notification would show up here.
    sentinel = request("subtract", "last", [2, 1])
    sock.sendall(pretty(sentinel))
    reply = reader.next()
    same(reply, {"jsonrpc": "2.0", "result": 1, "id": "last"}, "the sentinel's reply")
    sock.shutdown(socket.SHUT_WR)
    extra = reader.next()
    assert extra is None, "unexpected message after the last reply: %r" % extra
    sock.close()

    overtaken = order.index(id_key("slow")) != 0
    summary(queued=queued, raw=len(want), raw_sent=len(want), slow_overtaken=overtaken)


def cmd_half_close(path, count):
    """count requests, then shutdown(SHUT_WR), then read to EOF."""
    create_existing(path)
    want = {}
    stream = b""
    for i in range(count):
        req_id = 1000 + i
        if i % 25 == 0:
            # Still running when the write side closes: must still be answered.
            method, params, expectation = "test_sleep", {"ms": 50 + i}, ("result", 50 + i)
        else:
            method, params, expectation = mixed_call(i, lambda n: "Half%d" % n)
        stream += pretty(request(method, req_id, params))
        want[id_key(req_id)] = (expectation, method)
    sock = raw_socket(path)
    sock.sendall(stream)
    sock.shutdown(socket.SHUT_WR)
    closed_at = time.monotonic()

    reader = RawReader(sock)
    seen = {}
    while True:
        reply = reader.next()
        if reply is None:
            break
        key = id_key(reply.get("id"))
        assert key in want, "reply with an id we never sent: %r" % reply
        assert key not in seen, "two replies for id %s" % key
        seen[key] = reply
    eof_after = time.monotonic() - closed_at
    assert reader.eof, "no EOF"
    missing = sorted(set(want) - set(seen))
    assert not missing, "%d of %d replies missing, ids %s" % (len(missing), count, missing[:10])
    for key, (expectation, method) in want.items():
        check_reply(seen[key], expectation, "half-close %s id %s" % (method, key))
    sock.close()
    summary(sent=count, replies=len(seen), eof=reader.eof, eof_after_seconds=round(eof_after, 3))


def main(argv):
    signal.alarm(HARD_LIMIT_SECONDS)
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "check":
        cmd_check()
    elif cmd == "client" and len(argv) in (3, 4):
        cmd_client(argv[2], int(argv[3]) if len(argv) == 4 else 500)
    elif cmd == "pipeline" and len(argv) == 3:
        cmd_pipeline(argv[2])
    elif cmd == "half-close" and len(argv) == 4:
        cmd_half_close(argv[2], int(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Shared pieces of the two Open vSwitch `ovs.jsonrpc` peers that
tests/peer_ovs.rs drives (ovs_client.py and ovs_server.py).

Both peers use the real library as OVS's own python tools do: a
non-blocking `ovs.jsonrpc.Connection` or `ovs.jsonrpc.Session`, pumped by
an `ovs.poller.Poller` loop. Every wait has a deadline, and the whole
script is killed by SIGALRM after `limit` seconds, so a peer that stops
answering fails the test instead of hanging it.

A check that does not hold is recorded, not raised, so one run reports
every mismatch; `finish` prints the report as one line starting with
`RESULT ` and exits 1 if any check failed.
"""

import errno
import json
import os
import signal
import sys

import ovs.jsonrpc
import ovs.poller
import ovs.timeval
import ovs.vlog

Message = ovs.jsonrpc.Message

# How long one wait for the other side may take, in milliseconds.
STEP_MS = 10000


class Fatal(Exception):
    """Something that stops the run: the connection broke, a wait ran out."""


def setup(limit_seconds):
    """Logs the library's warnings to stderr (the Rust test shows stderr when
    it fails) and bounds the whole run."""
    ovs.vlog.Vlog.init()
    ovs.vlog.Vlog.set_levels_from_string("syslog:off")
    if os.environ.get("OVS_PEER_DEBUG"):
        ovs.vlog.Vlog.set_levels_from_string("console:dbg")

    def expired(_signum, _frame):
        sys.stderr.write("ovs peer: overall time limit of %ss reached\n"
                         % limit_seconds)
        sys.stderr.flush()
        os._exit(3)

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(limit_seconds)


def say(line):
    """One line to the Rust test on stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(text):
    sys.stderr.write("ovs peer: %s\n" % text)
    sys.stderr.flush()


def kind(msg):
    return Message.type_to_string(msg.type)


class Report(object):
    """What the peer observed, and which checks failed."""

    def __init__(self):
        self.observed = {}
        self.failures = []

    def check(self, what, got, expected):
        """Records `got` under `what` and checks it equals `expected`
        (compared as JSON, so 1 and 1.0 differ and key order does not
        matter)."""
        self.observed[what] = got
        if canonical(got) != canonical(expected):
            self.failures.append({"what": what, "got": got,
                                  "expected": expected})
            log("MISMATCH %s: got %s, expected %s"
                % (what, canonical(got), canonical(expected)))

    def expect(self, what, condition, detail=None):
        """Records a condition that must hold."""
        if not condition:
            self.failures.append({"what": what, "detail": detail})
            log("FAILED %s: %s" % (what, detail))

    def note(self, what, value):
        self.observed[what] = value

    def finish(self, fatal=None):
        if fatal is not None:
            self.failures.append({"what": "fatal", "detail": str(fatal)})
            log("FATAL %s" % fatal)
        say("RESULT " + json.dumps({"observed": self.observed,
                                    "failures": self.failures},
                                   sort_keys=True))
        sys.exit(1 if self.failures else 0)


def canonical(value):
    """JSON text that tells 1 from 1.0 and true from 1, with sorted keys."""
    return json.dumps(value, sort_keys=True)


def errno_name(code):
    if code == 0:
        return "ok"
    if code == ovs.jsonrpc.EOF:
        return "EOF"
    return errno.errorcode.get(code, str(code))


def block(wait, deadline):
    """Blocks until `wait(poller)`'s events or `deadline` (ovs msec)."""
    poller = ovs.poller.Poller()
    wait(poller)
    poller.timer_wait_until(deadline)
    poller.block()


def deadline_after(ms=STEP_MS):
    return ovs.timeval.msec() + ms

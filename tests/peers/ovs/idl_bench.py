"""Open vSwitch's python IDL (`ovs.db.idl`, Debian's python3-openvswitch)
replicating one table, for examples/ovsdb_bench.rs.

    idl_bench.py REMOTE SCHEMA TABLE EXPECT

Connects an IDL that monitors every column of TABLE, and pumps it until
the table holds EXPECT rows. It prints `READY <rows>` once the initial
contents have arrived (the bench then starts inserting, if it means to),
and at the end `DONE <seconds> <peak_rss_kib>`: the seconds from connecting
(when the initial contents are what is measured, EXPECT rows already in
the table) or from READY (when the rows are inserted after it) until the
last expected row was there, and the process's peak resident memory.
"""

import resource
import sys
import time

import ovs.db.idl
import ovs.poller

LIMIT_SECONDS = 600


def pump(idl, until):
    deadline = time.monotonic() + LIMIT_SECONDS
    while not until():
        if time.monotonic() > deadline:
            sys.exit("idl_bench: gave up after %d s" % LIMIT_SECONDS)
        idl.run()
        if until():
            break
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.block()


def main():
    remote, schema, table, expect = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    helper = ovs.db.idl.SchemaHelper(location=schema)
    helper.register_table(table)
    start = time.monotonic()
    idl = ovs.db.idl.Idl(remote, helper)
    seqno = idl.change_seqno
    # The first change of the sequence number is the initial contents.
    pump(idl, lambda: idl.change_seqno != seqno)
    rows = lambda: len(idl.tables[table].rows)
    print("READY %d" % rows(), flush=True)
    if rows() < expect:
        start = time.monotonic()
        pump(idl, lambda: rows() >= expect)
    elapsed = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("DONE %.6f %d" % (elapsed, peak), flush=True)
    idl.close()


if __name__ == "__main__":
    main()

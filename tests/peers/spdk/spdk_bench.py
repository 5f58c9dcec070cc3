"""SPDK's python JSONRPCClient calling spdk_get_version, for
examples/spdk_load.rs. Run with the peer venv's python
(target/peers/venv/bin/python, filled by scripts/install/spdk.sh):

    spdk_bench.py SOCK seq N          N calls, one after another (client.call)
    spdk_bench.py SOCK pipe N DEPTH   N calls, DEPTH at a time: queued with
                                      add_request, written together by flush,
                                      then the DEPTH replies read with recv

One connection; a few hundred calls first, not measured. Every reply is
checked (a result with a version; in pipe mode the ids of each round).
Prints one line: RESULT calls=N secs=S calls_per_s=R cpu_us_per_call=C
(C: this process's CPU time per call, the client's own cost).
"""

import sys
import time

from spdk.rpc.client import JSONRPCClient


def check(reply):
    assert "result" in reply and "version" in reply["result"], reply


def sequential(client, calls):
    for _ in range(calls):
        result = client.call("spdk_get_version")
        assert "version" in result, result


def pipelined(client, calls, depth):
    done = 0
    while done < calls:
        n = min(depth, calls - done)
        ids = {client.add_request("spdk_get_version", None) for _ in range(n)}
        client.flush()
        for _ in range(n):
            reply = client.recv()
            check(reply)
            ids.remove(reply["id"])
        assert not ids, ids
        done += n


def main():
    sock, mode, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    client = JSONRPCClient(sock, timeout=60.0)
    run = {
        "seq": lambda n: sequential(client, n),
        "pipe": lambda n: pipelined(client, n, depth),
    }[mode]
    run(min(500, calls))
    start, cpu = time.perf_counter(), time.process_time()
    run(calls)
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.close()
    print("RESULT calls=%d secs=%.6f calls_per_s=%.0f cpu_us_per_call=%.2f"
          % (calls, secs, calls / secs, cpu * 1e6 / calls), flush=True)


if __name__ == "__main__":
    main()

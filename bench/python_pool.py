"""The python-mp contestant: multiprocessing.Pool(2) running the same workloads.

Usage: python3 python_pool.py <workload> '<sizes as JSON>'
Prints one JSON line: {"value": ..., "extra": {...}}. Timings are taken
inside this process, after imports, like the Node contestants.
"""

import json
import multiprocessing
import sys
import time

WORKERS = 2


def noop():
    return None


def double(x):
    return x * 2


def inc(x):
    return x + 1


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def echo(data):
    # As bench/tasks.mjs: [length, checksum of every 4,096th byte, a copy].
    return [len(data), sum(data[::4096]) & 0xFFFFFFFF, bytes(data)]


def now():
    return time.perf_counter()


def tiny(sizes):
    n = sizes["tinyTasks"]
    with multiprocessing.Pool(WORKERS) as pool:
        for r in [pool.apply_async(noop) for _ in range(100)]:
            r.get()
        t0 = now()
        pending = [pool.apply_async(noop) for _ in range(n)]
        for r in pending:
            r.get()
        seconds = now() - t0
    return n / seconds, {"ms": seconds * 1000}


def map_chunked(sizes, n=None):
    n = sizes["mapItems"] if n is None else n
    chunksize = sizes["mapChunksize"]
    items = list(range(n))
    with multiprocessing.Pool(WORKERS) as pool:
        pool.map(double, items[: chunksize * WORKERS * 2], chunksize=chunksize)
        t0 = now()
        out = pool.map(double, items, chunksize=chunksize)
        seconds = now() - t0
    if len(out) != n or out[n - 1] != (n - 1) * 2:
        raise RuntimeError("wrong map result")
    return n / seconds, {"ms": seconds * 1000}


def startup(_sizes):
    t0 = now()
    pool = multiprocessing.Pool(WORKERS)
    value = pool.apply(inc, (1,))
    ms = (now() - t0) * 1000
    pool.close()
    pool.join()
    if value != 2:
        raise RuntimeError("wrong startup result")
    return ms, {}


def cpu(sizes):
    n = sizes["cpuTasks"]
    k = sizes["cpuFibN"]
    fib(k)
    t0 = now()
    serial = [fib(k) for _ in range(n)]
    serial_ms = (now() - t0) * 1000
    with multiprocessing.Pool(WORKERS) as pool:
        for r in [pool.apply_async(fib, (k - 5,)) for _ in range(WORKERS * 2)]:
            r.get()
        t0 = now()
        parallel = [r.get() for r in [pool.apply_async(fib, (k,)) for _ in range(n)]]
        pool_ms = (now() - t0) * 1000
    if parallel != serial:
        raise RuntimeError("wrong fib result")
    return serial_ms / pool_ms, {"poolMs": pool_ms, "serialMs": serial_ms}


def payload(sizes):
    n = sizes["payloadTasks"]
    size = sizes["payloadBytes"]
    data = bytes(i & 0xFF for i in range(256)) * (size // 256)
    with multiprocessing.Pool(WORKERS) as pool:
        for r in [pool.apply_async(echo, (data,)) for _ in range(WORKERS)]:
            r.get()
        t0 = now()
        # A fresh input per task, as for the Node contestants.
        pending = [pool.apply_async(echo, (bytearray(data),)) for _ in range(n)]
        for r in pending:
            if r.get()[0] != size or len(r.get()[2]) != size:
                raise RuntimeError("wrong payload size")
        seconds = now() - t0
    mib = n * size * 2 / (1024 * 1024)
    return mib / seconds, {"ms": seconds * 1000}


def map_large(sizes):
    return map_chunked(sizes, sizes["mapItemsLarge"])


WORKLOADS = {
    "tiny": tiny,
    "map-chunked": map_chunked,
    "map-large": map_large,
    "startup": startup,
    "cpu": cpu,
    "payload": payload,
}


def main():
    workload = sys.argv[1]
    sizes = json.loads(sys.argv[2])
    value, extra = WORKLOADS[workload](sizes)
    print(json.dumps({"value": value, "extra": extra}), flush=True)


if __name__ == "__main__":
    main()

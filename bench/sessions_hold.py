#!/usr/bin/python3
"""bench/sessions_hold.py — hold N SMTP sessions open (asyncio), for bench/sessions.sh.

Opens N connections to 127.0.0.1:PORT from source addresses 127.0.0.2 .. 127.0.0.(1+SOURCES)
(round robin, so no single source runs out of ephemeral ports), at most --inflight at a
time; each reads the banner and sends EHLO ("idle" mode) or goes on into DATA and sends a
first part of the message without ending it ("data" mode). Once all are open it measures the
banner latency of --probes more connections while the N are held, writes one line of results
to --ready (a file, for the caller to wait on) and holds everything until --hold seconds
passed or it gets SIGTERM. Bounded: every step has a timeout."""
import argparse
import asyncio
import signal
import statistics
import time

STEP_TIMEOUT = 60


async def reply(r):
    """One (possibly multi-line) reply: its code."""
    while True:
        line = await r.readline()
        if not line:
            raise EOFError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def open_one(a, i, held, lat):
    src = "127.0.0.%d" % (2 + i % a.sources)
    t0 = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", a.port, local_addr=(src, 0), limit=4096)
    code = await reply(r)
    lat.append(time.monotonic() - t0)
    if code != 220:
        raise RuntimeError("banner %d" % code)
    w.write(b"EHLO client%d.bench.test\r\n" % i)
    if await reply(r) != 250:
        raise RuntimeError("EHLO refused")
    if a.mode == "data":
        w.write(b"MAIL FROM:<s%d@client.bench.test>\r\n" % i)
        if await reply(r) != 250:
            raise RuntimeError("MAIL refused")
        w.write(("RCPT TO:<%s>\r\n" % a.rcpt).encode())
        if await reply(r) != 250:
            raise RuntimeError("RCPT refused")
        w.write(b"DATA\r\n")
        if await reply(r) != 354:
            raise RuntimeError("DATA refused")
        w.write(b"Subject: held %d\r\n\r\n" % i + b"x" * 998 + b"\r\n")
        await w.drain()
    held.append(w)


async def guarded(sem, a, i, held, lat, errors):
    async with sem:
        try:
            await asyncio.wait_for(open_one(a, i, held, lat), STEP_TIMEOUT)
        except Exception as e:  # counted, the run goes on
            errors[type(e).__name__ + ":" + str(e)[:40]] = errors.get(type(e).__name__ + ":" + str(e)[:40], 0) + 1


async def main(a):
    held, lat, errors = [], [], {}
    sem = asyncio.Semaphore(a.inflight)
    t0 = time.monotonic()
    await asyncio.gather(*(guarded(sem, a, i, held, lat, errors) for i in range(a.n)))
    open_s = time.monotonic() - t0
    probe_lat = []
    for i in range(a.probes):  # banner latency with the N held
        t = time.monotonic()
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", a.port, local_addr=("127.0.0.1", 0)), 10)
            code = await asyncio.wait_for(reply(r), 10)
            probe_lat.append(time.monotonic() - t)
            w.write(b"QUIT\r\n")
            w.close()
        except Exception as e:
            errors["probe:" + type(e).__name__] = errors.get("probe:" + type(e).__name__, 0) + 1
    ms = lambda v: "%.1f" % (1000 * v)
    line = ("held=%d errors=%d open_seconds=%.1f banner_ms_p50=%s banner_ms_max=%s "
            "probe_banner_ms_p50=%s probe_banner_ms_max=%s %s\n" % (
                len(held), sum(errors.values()), open_s,
                ms(statistics.median(lat)) if lat else "-", ms(max(lat)) if lat else "-",
                ms(statistics.median(probe_lat)) if probe_lat else "-",
                ms(max(probe_lat)) if probe_lat else "-",
                " ".join("%s=%d" % (k.replace(" ", "_"), v) for k, v in errors.items())))
    with open(a.ready, "w") as f:
        f.write(line)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), a.hold)
    except asyncio.TimeoutError:
        pass
    for w in held:
        w.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--sources", type=int, default=20)
    p.add_argument("--inflight", type=int, default=200)
    p.add_argument("--mode", choices=("idle", "data"), default="idle")
    p.add_argument("--rcpt", default="user@bench.test")
    p.add_argument("--probes", type=int, default=20)
    p.add_argument("--hold", type=float, default=300)
    p.add_argument("--ready", required=True)
    asyncio.run(main(p.parse_args()))

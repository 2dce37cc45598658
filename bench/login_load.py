#!/usr/bin/env python3
"""Drive complete "Sign in with Coze" logins through nginx and the mock.

    /usr/bin/python3 bench/login_load.py --base http://127.0.0.1:31802 \
        --path /auth/x --concurrency 300 --duration 8 [--max-logins N]

Each of --concurrency tasks (started at random offsets within --stagger
seconds) loops over the browser's three steps, on
keep-alive connections of its own:
  1. GET <path> (Accept: text/html)  -> 302 to Coze's authorize page,
                                        Set-Cookie: the state cookie
  2. GET the authorize URL (the mock auto-approves) -> 302 to the callback
  3. GET /oauth/callback?code&state with the state cookie -> nginx exchanges
     the code and reads /v1/users/me -> 302, Set-Cookie: the session
A login counts when step 3 sets a non-empty session cookie.  "In flight" is
the number of step-3 requests sent and not yet answered, sampled every
100 ms.  Prints one JSON object: logins, failures, seconds, logins_per_s,
callback latency percentiles (ms) and the in-flight samples [[t, n], ...].
Loopback URLs only.
"""

import argparse
import asyncio
import json
import random
import sys
import time
import urllib.parse


class Conn:
    """One HTTP/1.1 keep-alive connection; reconnects when needed."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
        self.reader = self.writer = None

    async def request(self, target, headers, timeout):
        for attempt in (0, 1):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), timeout)
            try:
                return await asyncio.wait_for(
                    self._exchange(target, headers), timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if fresh or attempt:
                    raise
            except BaseException:
                await self.close()
                raise

    async def _exchange(self, target, headers):
        lines = ["GET %s HTTP/1.1" % target,
                 "Host: %s:%d" % (self.host, self.port)]
        lines += ["%s: %s" % kv for kv in headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        hdrs = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            k, _, v = line.decode("latin-1").partition(":")
            hdrs.append((k.strip().lower(), v.strip()))
        h = dict(hdrs)
        if h.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(int(h.get("content-length", 0)))
        if h.get("connection", "").lower() == "close":
            await self.close()
        return status, hdrs


def split_url(url):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("loopback only: %s" % url)
    return u.hostname, u.port or 80, (u.path or "/") + (
        "?" + u.query if u.query else "")


class Load:
    def __init__(self, a):
        self.a = a
        self.host, self.port, _ = split_url(a.base)
        self.logins = self.failures = 0
        self.inflight = 0
        self.samples = []
        self.lat = []
        self.errors = {}
        self.stop = False

    def fail(self, why):
        self.failures += 1
        self.errors[why] = self.errors.get(why, 0) + 1

    async def one(self, nginx, coze):
        a = self.a
        hdr = [("Accept", "text/html,application/xhtml+xml"),
               ("User-Agent", "bench-login/1")]
        st, h = await nginx.request(a.path, hdr, a.timeout)
        loc = dict(h).get("location")
        cookies = [v.split(";", 1)[0] for k, v in h if k == "set-cookie"]
        if st != 302 or not loc or not cookies:
            return self.fail("start %d" % st)
        host, port, target = split_url(loc)
        if coze is None or (coze.host, coze.port) != (host, port):
            coze = Conn(host, port)
        st, h = await coze.request(target, hdr, a.timeout)
        cb = dict(h).get("location")
        if st != 302 or not cb:
            return self.fail("authorize %d" % st)
        _, _, target = split_url(cb)
        self.inflight += 1
        t0 = time.monotonic()
        try:
            st, h = await nginx.request(
                target, hdr + [("Cookie", "; ".join(cookies))], a.timeout)
        finally:
            self.inflight -= 1
        self.lat.append(time.monotonic() - t0)
        ok = any(k == "set-cookie" and v.startswith(a.cookie + "=")
                 and not v.startswith(a.cookie + "=;") for k, v in h)
        if st != 302 or not ok:
            return self.fail("callback %d" % st)
        self.logins += 1
        return coze

    async def worker(self):
        nginx = Conn(self.host, self.port)
        coze = None
        if self.a.stagger:
            # browsers do not arrive in lock-step: each flow starts at a
            # random offset, so completions spread over the slow call
            await asyncio.sleep(random.uniform(0, self.a.stagger))
        while not self.stop:
            if self.a.max_logins and (self.logins + self.failures
                                      >= self.a.max_logins):
                break
            try:
                coze = await self.one(nginx, coze) or coze
            except (OSError, asyncio.TimeoutError, ValueError,
                    asyncio.IncompleteReadError) as e:
                self.fail(type(e).__name__)
                await nginx.close()
                if coze is not None:
                    await coze.close()
                await asyncio.sleep(0.01)
        await nginx.close()
        if coze is not None:
            await coze.close()

    async def sampler(self, t0):
        while not self.stop:
            self.samples.append([round(time.monotonic() - t0, 2),
                                 self.inflight])
            await asyncio.sleep(0.1)

    async def run(self):
        t0 = time.monotonic()
        s = asyncio.ensure_future(self.sampler(t0))
        tasks = [asyncio.ensure_future(self.worker())
                 for _ in range(self.a.concurrency)]
        done, _ = await asyncio.wait(tasks, timeout=self.a.duration)
        self.stop = True
        elapsed = time.monotonic() - t0
        # let in-flight logins finish (bounded), then count them too
        await asyncio.wait(tasks, timeout=self.a.timeout + 1)
        for t in tasks:
            t.cancel()
        s.cancel()
        lat = sorted(self.lat)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000,
                         2) if lat else None

        return {"logins": self.logins, "failures": self.failures,
                "errors": self.errors, "seconds": round(elapsed, 3),
                "logins_per_s": round(self.logins / elapsed, 1),
                "callback_ms": {"p50": pct(0.5), "p99": pct(0.99)},
                "inflight": self.samples}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--cookie", default="coze_session")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--max-logins", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--stagger", type=float, default=0,
                    help="start each flow after a random 0..S s delay")
    a = ap.parse_args()
    if not 1 <= a.concurrency <= 2000 or not 0 < a.duration <= 600:
        sys.exit("login_load: concurrency 1..2000, duration 0..600 s")
    out = asyncio.run(Load(a).run())
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

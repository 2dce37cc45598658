#!/usr/bin/env python3
"""make bench: every benchmark of ngx_http_coze_auth_module in one run.

    make bench                      # installs, builds, runs, prints the table
    /usr/bin/python3 bench/bench.py # the runner alone (module already built)

Everything listens on 127.0.0.1 and is bounded in count and time (about six
minutes on two cores with the defaults).  Phases, in order:

  hot     requests/s, p50, p99 and server CPU per request of the same request
          through (a) nginx returning directly, (b) nginx proxying to a local
          upstream, (c) the same with coze_auth on and a valid session, and
          the peers: (d) nginx auth_request to a separate njs auth service,
          (e) Apache + mod_auth_openidc (client-cookie session) and (f) the
          same with a server-cache (shm) session, (g) Apache proxying, and
          (h) = (c) with the session kept in Redis (one GET per request, to a
          redis-server on 127.0.0.1).  Rounds are interleaved (the order
          rotates) and medians reported.
  profile callgrind on a single-process nginx: N plain proxied requests vs
          N authenticated ones; the module's instructions per request and
          where they go.
  isolate one worker, Coze's token endpoint delayed 500 ms, hundreds of
          logins in flight: p50/p99 of an unrelated location, without and
          with that load (issue 3).
  storm   bench/refresh-storm.sh: one expiring session, hundreds of concurrent
          requests, several workers: refresh calls (must be 1), failures (0).
  logins  logins/s through the full three-step flow against the mock Coze
          with 50 ms on its token and users/me endpoints.
  memory  worker RSS across N logins and M authenticated requests (a fast
          nginx stand-in plays Coze so that the counts fit the time budget).

Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (3), BENCH_CONNS (50),
BENCH_CG_REQUESTS (5000), BENCH_ISO_LOGINS (300), BENCH_LOGIN_CONC (64),
BENCH_MEM_LOGINS (100000), BENCH_MEM_REQUESTS (1000000), BENCH_PORT_BASE
(31800), BENCH_PIN (1: servers under test on CPU 0, load generators on CPU
1), BENCH_PHASES (hot,profile,isolate,storm,logins,memory), BENCH_QUICK=1
(a short smoke run), NGINX (/usr/sbin/nginx), BENCH_MODULE.  Results: the
table on stdout and in build/bench/summary.txt, raw data in
build/bench/results.json, logs in build/bench/run/logs/.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(ROOT, "build", "bench")
DIR = os.path.join(OUT, "run")
PY = "/usr/bin/python3"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
MODULE = os.environ.get("BENCH_MODULE",
                        os.path.join(ROOT, "build",
                                     "ngx_http_coze_auth_module.so"))
WEB_CLIENT_ID = "92769033034183945191209058691557.app.coze"


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = env_int("BENCH_ROUNDS", 2 if QUICK else 5)
SECONDS = env_int("BENCH_SECONDS", 1 if QUICK else 3)
CONNS = env_int("BENCH_CONNS", 50)
CG_REQUESTS = env_int("BENCH_CG_REQUESTS", 500 if QUICK else 5000)
ISO_LOGINS = env_int("BENCH_ISO_LOGINS", 300)
ISO_SECONDS = env_int("BENCH_ISO_SECONDS", 2 if QUICK else 5)
LOGIN_CONC = env_int("BENCH_LOGIN_CONC", 64)
LOGIN_SECONDS = env_int("BENCH_LOGIN_SECONDS", 3 if QUICK else 10)
MEM_LOGINS = env_int("BENCH_MEM_LOGINS", 5000 if QUICK else 100000)
MEM_REQUESTS = env_int("BENCH_MEM_REQUESTS", 50000 if QUICK else 1000000)
STORM_REQUESTS = env_int("BENCH_STORM_REQUESTS", 500)
STORM_CONC = env_int("BENCH_STORM_CONC", 300)
STORM_WORKERS = env_int("BENCH_STORM_WORKERS", 4)
PORT_BASE = env_int("BENCH_PORT_BASE", 31800)
PHASES = os.environ.get("BENCH_PHASES",
                        "hot,profile,isolate,storm,logins,memory").split(",")
PIN = os.environ.get("BENCH_PIN", "1") == "1" and (os.cpu_count() or 1) >= 2
CPU_SUT, CPU_LOAD = (0, 1) if PIN else (None, None)
NICE_REMOTE = 10      # the mock Coze, the OIDC provider, the login driver
# the servers under test, the upstream, wrk and ab: 0, or e.g. -10 on a
# machine shared with other work (the run then competes less with it)
NICE_SUT = env_int("BENCH_NICE", 0)

PORT_NAMES = ["coze", "upstream", "front", "authsvc", "apache_cookie",
              "apache_shm", "oidc", "cg", "mem", "apache_plain", "redis",
              "front_redis"]
REDIS_SERVER = "/usr/bin/redis-server"


def child_env(extra=None):
    """The environment of every child: nginx reads NGINX as a list of
    inherited sockets, so the runner's own NGINX setting never goes on."""
    e = dict(os.environ)
    e.pop("NGINX", None)
    e.update(extra or {})
    return e


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class BenchError(Exception):
    pass


# -- processes ----------------------------------------------------------------

class Procs:
    """Processes this run started, each in a session of its own."""

    def __init__(self):
        self.items = []

    def start(self, name, argv, cpu=None, nice=None, env=None):
        pre = []
        if cpu is not None:
            pre += ["taskset", "-c", str(cpu)]
        if nice is None:
            nice = NICE_SUT
        if nice:
            pre += ["nice", "-n", str(nice)]
        out = open(os.path.join(DIR, "logs", name + ".out"), "ab")
        p = subprocess.Popen(pre + argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=ROOT,
                             start_new_session=True,
                             env=child_env(env))
        out.close()
        p.bench_name = name
        self.items.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, grace=8):
        if p not in self.items:
            return
        self.items.remove(p)
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        # the whole group: nginx workers, Apache children
        deadline = time.time() + grace
        while group_pids(p.pid) and time.time() < deadline:
            time.sleep(0.1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(2)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in reversed(list(self.items)):
            self.stop(p)


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_stat(int(d))
        except (OSError, ValueError):
            continue
        if int(st[2]) == pgid and st[0] != "Z":
            out.append(int(d))
    return out


def group_cpu(pgids):
    """utime+stime (seconds) of every live process of these groups."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for pgid in pgids:
        for pid in group_pids(pgid):
            try:
                st = proc_stat(pid)
            except OSError:
                continue
            total += int(st[11]) + int(st[12])
    return total / hz


def nginx_workers(master_pid):
    out = []
    for pid in group_pids(master_pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"worker process" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return sorted(out)


def rss_kib(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssShmem"):
                vals[k] = int(v.split()[0])
    return vals


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_ports():
    for attempt in range(20):
        base = PORT_BASE + attempt * 20
        ports = {n: base + i for i, n in enumerate(PORT_NAMES)}
        if all(port_free(p) for p in ports.values()):
            return ports
    raise BenchError("no free block of ports from %d" % PORT_BASE)


def wait_port(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError("%s exited at start (see %s)" % (
                what, os.path.join(DIR, "logs", proc.bench_name + ".out")))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError("%s is not listening on %d after %d s" % (
        what, port, timeout))


def http_req(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, data, h)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def redis_call(port, *args, timeout=5):
    """One command to the bench's redis-server (RESP); the reply of a
    simple, integer or bulk string kind."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        args = [a.encode() for a in args]
        s.sendall(b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        f = s.makefile("rb")
        line = f.readline()
        kind, rest = line[:1], line[1:].rstrip(b"\r\n").decode()
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        raise BenchError("redis %s: %s" % (args[0].decode(), line[:200]))
    finally:
        s.close()


def redis_commands(port):
    """Commands the redis-server has run so far, INFO itself left out."""
    text = redis_call(port, "INFO", "commandstats")
    return sum(int(m.group(2)) for m in re.finditer(
        r"^cmdstat_([^:]+):calls=(\d+)", text, re.M)
        if m.group(1) != "info")


def run(argv, timeout, cpu=None, env=None, check=True, measured=False):
    pre = ["taskset", "-c", str(cpu)] if cpu is not None else []
    if measured and NICE_SUT:
        pre += ["nice", "-n", str(NICE_SUT)]
    r = subprocess.run(pre + argv, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, cwd=ROOT,
                       env=child_env(env))
    if check and r.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (
            " ".join(argv[:3]), r.returncode,
            (r.stderr or r.stdout).decode(errors="replace")[-800:]))
    return r


def fill(template, out, values):
    with open(os.path.join(BENCH, "conf", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise BenchError("%s: unfilled %s" % (template, left))
    path = os.path.join(DIR, out)
    with open(path, "w") as f:
        f.write(text)
    return path


# -- clients ----------------------------------------------------------------

def wrk(url, headers=(), conns=None, secs=None, cpu="load", timeout=None):
    conns = conns or CONNS
    secs = secs or SECONDS
    argv = ["wrk", "-t", "1", "-c", str(conns), "-d", "%ds" % secs,
            "--timeout", "10s", "-s", os.path.join(BENCH, "wrk_report.lua")]
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    r = run(argv, timeout or secs + 60, cpu=CPU_LOAD if cpu == "load"
            else cpu, measured=True)
    for line in r.stdout.decode().splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[8:])
    raise BenchError("wrk printed no result: %s" % r.stdout.decode()[-500:])


def curl_login(url, jar, accept_html=True):
    """One browser login by curl (cookie jar, redirects followed)."""
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-L",
            "--max-redirs", "10", "-c", jar, "-b", jar, "-A",
            "Mozilla/5.0 bench-login", "--max-time", "30"]
    if accept_html:
        argv += ["-H", "Accept: text/html,application/xhtml+xml"]
    code = run(argv + [url], 40).stdout.decode()
    if code != "200":
        raise BenchError("login through %s ended with %s" % (url, code))
    cookies = []
    with open(jar) as f:
        for line in f:
            if line.startswith("#HttpOnly_"):
                line = line[len("#HttpOnly_"):]
            elif line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 7:
                cookies.append((parts[5], parts[6]))
    return cookies


def ab(url, count, headers=(), conc=32, expect=200, timeout=900):
    """Exactly count keep-alive requests (ApacheBench); raises on any
    transport failure or an unexpected status."""
    argv = ["ab", "-q", "-k", "-r", "-n", str(count), "-c", str(conc),
            "-s", "30"]
    for h in headers:
        argv += ["-H", h]
    r = run(argv + [url], timeout, cpu=CPU_LOAD, measured=True)
    t = r.stdout.decode(errors="replace")
    done = int(re.search(r"Complete requests:\s+(\d+)", t).group(1))
    m = re.search(r"Failed requests:\s+(\d+)\s*\n\s*\(Connect: (\d+), "
                  r"Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", t)
    failed = sum(int(x) for x in m.groups()[1:]) if m else int(
        re.search(r"Failed requests:\s+(\d+)", t).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", t)
    non2xx = int(non2xx.group(1)) if non2xx else 0
    secs = float(re.search(r"Time taken for tests:\s+([\d.]+)", t).group(1))
    want_non2xx = count if expect != 200 else 0
    if done != count or failed or non2xx != want_non2xx:
        raise BenchError("ab %s: %d done, %d failed, %d non-2xx:\n%s" % (
            url, done, failed, non2xx, t[-600:]))
    return {"requests": done, "seconds": secs, "rps": done / secs}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# -- the run ------------------------------------------------------------------

class Bench:
    def __init__(self):
        self.procs = Procs()
        self.res = {"settings": {}, "machine": {}, "notes": []}
        self.t_start = time.time()

    # setup -----------------------------------------------------------------
    def prepare(self):
        if os.path.isdir(DIR):
            shutil.rmtree(DIR)
        for d in ("logs", "tmp", "cg", "jars"):
            os.makedirs(os.path.join(DIR, d))
        os.chmod(DIR, 0o755)
        for need in (NGINX, MODULE):
            if not os.path.exists(need):
                raise BenchError("missing %s (run make bench, which builds"
                                 " and installs what it needs)" % need)
        for tool in ("wrk", "curl", "taskset", "valgrind", "ab", "apache2"):
            if shutil.which(tool) is None and not os.path.exists(
                    "/usr/sbin/" + tool):
                raise BenchError("missing %s: run make bench-deps" % tool)
        self.ports = pick_ports()
        key = os.path.join(DIR, "session.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o600)
        sec = os.path.join(DIR, "client_secret.txt")
        shutil.copy(os.path.join(ROOT, "t", "data", "web_client_secret.txt"),
                    sec)
        os.chmod(sec, 0o600)
        self.auth_secret = secrets.token_hex(32)
        self.machine_info()

    def machine_info(self):
        m = self.res["machine"]
        m["nproc"] = os.cpu_count()
        try:
            with open("/proc/cpuinfo") as f:
                m["cpu"] = next((l.split(":", 1)[1].strip() for l in f
                                 if l.startswith("model name")), "?")
        except OSError:
            m["cpu"] = "?"
        m["kernel"] = os.uname().release

        def ver(argv, pat):
            try:
                r = subprocess.run(argv, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=10)
                mm = re.search(pat, r.stdout.decode(errors="replace"))
                return mm.group(1) if mm else "?"
            except (OSError, subprocess.TimeoutExpired):
                return "?"

        def deb(pkg):
            return ver(["dpkg-query", "-W", "-f=${Version}", pkg], r"(\S+)")

        m["nginx"] = ver([NGINX, "-v"], r"nginx/(\S+)")
        m["nginx_deb"] = deb("nginx")
        m["apache"] = ver(["apache2", "-v"], r"Apache/(\S+)")
        m["mod_auth_openidc"] = deb("libapache2-mod-auth-openidc")
        m["njs"] = deb("libnginx-mod-http-js")
        m["wrk"] = deb("wrk")
        m["valgrind"] = ver(["valgrind", "--version"], r"valgrind-(\S+)")
        m["libcurl"] = ver(["curl-config", "--version"], r"libcurl (\S+)") \
            if shutil.which("curl-config") else deb("libcurl4")
        m["openssl"] = deb("libssl3")
        m["redis"] = ver([REDIS_SERVER, "--version"], r"v=(\S+)")
        m["python"] = sys.version.split()[0]
        try:
            out = subprocess.run(["git", "-C", ROOT, "describe", "--always",
                                  "--dirty"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, timeout=10)
            m["module_commit"] = out.stdout.decode().strip() or "?"
        except (OSError, subprocess.TimeoutExpired):
            m["module_commit"] = "?"
        m["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
        m["perf_counters"] = "instructions" in ver(
            ["perf", "stat", "-x,", "-e", "instructions", "true"],
            r"^(\d+,,instructions)") if shutil.which("perf") else False

    def values(self, **extra):
        v = {"DIR": DIR, "BENCH": BENCH,
             "UPSTREAM_PORT": self.ports["upstream"],
             "AUTHSVC_PORT": self.ports["authsvc"],
             "COZE_PORT": self.ports["coze"],
             "APACHE_COOKIE_PORT": self.ports["apache_cookie"],
             "APACHE_SHM_PORT": self.ports["apache_shm"],
             "APACHE_PLAIN_PORT": self.ports["apache_plain"],
             "OIDC_PORT": self.ports["oidc"],
             "AUTH_SECRET": self.auth_secret,
             "PASSPHRASE": secrets.token_hex(16),
             "LOAD_MODULE": "load_module %s;" % MODULE,
             "LISTEN_OPTS": "",
             # the Redis lines of front.conf.in: the hot-path front only
             "REDIS": "#",
             "REDIS_PORT": self.ports["redis"],
             "REDIS_FRONT_PORT": self.ports["front_redis"]}
        v.update(extra)
        return v

    def start_nginx(self, name, template, port, cpu, master="on", workers=1,
                    wrap=(), **extra):
        conf = fill(template, name + ".conf",
                    self.values(NAME=name, PORT=port, MASTER=master,
                                WORKERS=workers, **extra))
        r = run([NGINX, "-t", "-p", DIR + "/", "-c", conf], 30, check=False)
        if r.returncode != 0:
            raise BenchError("nginx -t %s: %s" % (
                name, r.stderr.decode(errors="replace")[-600:]))
        p = self.procs.start(name, list(wrap) + [NGINX, "-p", DIR + "/",
                                                  "-c", conf], cpu=cpu)
        wait_port(port, p, name, timeout=60 if wrap else 20)
        return p

    def start_redis(self):
        """The Redis of variant (h): no persistence, in the foreground,
        pinned with the upstream (remote in production, and on the path of
        every (h) request), at the upstream's priority."""
        P = self.ports
        if not os.path.exists(REDIS_SERVER):
            raise BenchError("%s missing (make bench-deps installs"
                             " redis-server)" % REDIS_SERVER)
        self.redis = self.procs.start(
            "redis", [REDIS_SERVER, "--bind", "127.0.0.1", "--port",
                      str(P["redis"]), "--save", "", "--appendonly", "no",
                      "--daemonize", "no", "--dir", os.path.join(DIR, "tmp"),
                      "--logfile", ""], cpu=CPU_LOAD)
        wait_port(P["redis"], self.redis, "redis-server")
        if redis_call(P["redis"], "PING") != "PONG":
            raise BenchError("redis-server does not answer PING")

    def start_base(self):
        P = self.ports
        notes = self.res["notes"]
        self.upstream = self.start_nginx("upstream", "upstream.conf.in",
                                         P["upstream"], CPU_LOAD)
        self.redis = None
        self.redis_cookie = None
        try:
            self.start_redis()
        except BenchError as e:
            notes.append("variant (h) not run: %s" % e)
            if self.redis is not None:
                self.procs.stop(self.redis)
                self.redis = None
        env = {"COZE_MOCK_REDIRECT_PORTS": "%d %d %d" % (
            P["front"], P["mem"], P["front_redis"])}
        self.mock = self.procs.start(
            "coze-mock", [PY, "-B", os.path.join(ROOT, "t", "mock",
                                                 "coze_mock.py"),
                          "--port", str(P["coze"]), "--apps",
                          os.path.join(ROOT, "t", "data",
                                       "mock_apps.json")],
            nice=NICE_REMOTE, env=env)
        wait_port(P["coze"], self.mock, "the mock Coze")
        self.front = None
        if self.redis is not None:
            try:
                self.front = self.start_nginx("front", "front.conf.in",
                                              P["front"], CPU_SUT, REDIS="")
                wait_port(P["front_redis"], self.front, "front (Redis)")
            except BenchError as e:
                # e.g. a module built without hiredis
                notes.append("variant (h) not run: %s" % e)
                if self.front is not None:
                    self.procs.stop(self.front)
                    self.front = None
                self.procs.stop(self.redis)
                self.redis = None
        if self.front is None:
            self.front = self.start_nginx("front", "front.conf.in",
                                          P["front"], CPU_SUT)
        self.front_worker = nginx_workers(self.front.pid)[0]
        # one real login through the mock: the session of the hot path
        cookies = curl_login("http://127.0.0.1:%d/auth/login" % P["front"],
                             os.path.join(DIR, "jars", "coze"))
        sess = [v for k, v in cookies if k == "coze_session"]
        if not sess:
            raise BenchError("no coze_session cookie after the login")
        self.coze_cookie = "coze_session=" + sess[0]
        if self.redis is not None:
            # the same through the server that keeps sessions in Redis
            try:
                cookies = curl_login("http://127.0.0.1:%d/auth/login"
                                     % P["front_redis"],
                                     os.path.join(DIR, "jars", "coze_redis"))
                sess = [v for k, v in cookies if k == "coze_session"]
                if not sess:
                    raise BenchError("no coze_session cookie after the"
                                     " login through the Redis server")
                keys = int(redis_call(P["redis"], "DBSIZE"))
                if keys < 1:
                    raise BenchError("the login left nothing in Redis")
                self.redis_cookie = "coze_session=" + sess[0]
                self.res["redis_session"] = {
                    "redis_keys_after_login": keys,
                    "cookie_bytes": len(self.redis_cookie),
                    "cookie_store_cookie_bytes": len(self.coze_cookie)}
            except BenchError as e:
                notes.append("variant (h) not run: %s" % e)

    def mock_call(self, method, path, body=None):
        st, _, data = http_req(self.ports["coze"], method, path, body)
        if st != 200:
            raise BenchError("mock %s %s: %d %s" % (method, path, st,
                                                    data[:200]))
        return json.loads(data or b"{}")

    # hot path ----------------------------------------------------------------
    def start_peers(self):
        P = self.ports
        notes = self.res["notes"]
        self.peers_ok = {}
        try:
            self.authsvc = self.start_nginx("authsvc", "authsvc.conf.in",
                                            P["authsvc"], CPU_SUT)
            payload = b64url(json.dumps({
                "sub": "7380000000000000001",
                "tok": "czu_" + secrets.token_urlsafe(48)[:64],
                "exp": int(time.time()) + 86400}).encode())
            sig = b64url(hmac.new(self.auth_secret.encode(),
                                  payload.encode(), hashlib.sha256).digest())
            self.authreq_cookie = "bench_sess=%s.%s" % (payload, sig)
            self.peers_ok["authreq"] = True
        except BenchError as e:
            notes.append("auth_request peer not run: %s" % e)
        try:
            self.oidc = self.procs.start(
                "oidc-provider", [PY, "-B", os.path.join(BENCH,
                                                         "oidc_provider.py"),
                                  "--port", str(P["oidc"])],
                nice=NICE_REMOTE)
            wait_port(P["oidc"], self.oidc, "the OIDC provider")
            conf = fill("apache.conf.in", "apache.conf", self.values())
            argv = ["apache2", "-d", DIR, "-f", conf, "-DFOREGROUND"]
            r = run(["apache2", "-d", DIR, "-f", conf, "-t"], 30,
                    check=False)
            if r.returncode != 0:
                raise BenchError("apache2 -t: " + r.stderr.decode()[-600:])
            self.apache = self.procs.start("apache", argv, cpu=CPU_SUT,
                                           env={"APACHE_RUN_DIR": DIR})
            wait_port(P["apache_cookie"], self.apache, "Apache")
            wait_port(P["apache_shm"], self.apache, "Apache")
            wait_port(P["apache_plain"], self.apache, "Apache")
            self.peers_ok["apache_plain"] = True
            self.apache_cookies = {}
            for mode in ("apache_cookie", "apache_shm"):
                ck = curl_login("http://127.0.0.1:%d/protected/login"
                                % P[mode], os.path.join(DIR, "jars", mode),
                                accept_html=True)
                ck = [(k, v) for k, v in ck
                      if k.startswith("mod_auth_openidc_session")]
                if not ck:
                    raise BenchError("no mod_auth_openidc session cookie"
                                     " after the %s login" % mode)
                self.apache_cookies[mode] = "; ".join("%s=%s" % kv
                                                      for kv in ck)
                self.peers_ok[mode] = True
        except (BenchError, subprocess.TimeoutExpired) as e:
            notes.append("Apache + mod_auth_openidc peer not run: %s" % e)

    def hot_variants(self):
        P = self.ports
        f = "http://127.0.0.1:%d" % P["front"]
        v = [("direct", "(a) nginx return 200 (ceiling)", f + "/direct",
              [self.coze_cookie], [self.front.pid]),
             ("plain", "(b) nginx proxy, no auth", f + "/plain/x",
              [self.coze_cookie], [self.front.pid]),
             ("coze", "(c) nginx proxy + coze_auth", f + "/auth/x",
              [self.coze_cookie], [self.front.pid])]
        if self.redis_cookie:
            # (c) in a server of the same worker that keeps its sessions in
            # Redis: one GET per request (Redis's CPU is reported apart)
            v.append(("coze_redis", "(h) nginx proxy + coze_auth, Redis",
                      "http://127.0.0.1:%d/auth/x" % P["front_redis"],
                      [self.redis_cookie], [self.front.pid]))
        if self.peers_ok.get("authreq"):
            v.append(("authreq", "(d) nginx auth_request + njs svc",
                      f + "/authreq/x", [self.authreq_cookie],
                      [self.front.pid, self.authsvc.pid]))
        for mode, label in (("apache_cookie",
                             "(e) Apache mod_auth_openidc cookie"),
                            ("apache_shm",
                             "(f) Apache mod_auth_openidc shm")):
            if self.peers_ok.get(mode):
                v.append((mode, label, "http://127.0.0.1:%d/protected/x"
                          % P[mode], [self.apache_cookies[mode]],
                          [self.apache.pid]))
        if self.peers_ok.get("apache_plain"):
            v.append(("apache_plain", "(g) Apache proxy, no auth",
                      "http://127.0.0.1:%d/protected/x" % P["apache_plain"],
                      [self.apache_cookies.get("apache_cookie", "x=1")],
                      [self.apache.pid]))
        return [(k, l, u, ["Cookie: " + c for c in h], g)
                for k, l, u, h, g in v]

    def check_variant(self, key, url, headers):
        """What the upstream receives (once, before the timed runs)."""
        port = int(url.split(":")[2].split("/")[0])
        path = url.split(str(port), 1)[1]
        if key == "direct":
            return "-"
        echo = path.rsplit("/", 1)[0] + "/__echo"
        h = dict(x.split(": ", 1) for x in headers)
        st, _, body = http_req(port, "GET", echo, headers=h)
        body = body.decode(errors="replace")
        if st != 200:
            raise BenchError("%s: %s answered %d" % (key, echo, st))
        auth = re.search(r"authorization=\[([^\]]*)\]", body).group(1)
        cookie = re.search(r"cookie=\[([^\]]*)\]", body).group(1)
        tok = "token injected" if auth.startswith("Bearer ") and \
            len(auth) > 20 else "no token"
        if key in ("coze", "coze_redis"):
            if not auth.startswith("Bearer czu_"):
                raise BenchError("coze_auth did not inject the token")
            if "coze_session" in cookie:
                raise BenchError("coze_auth did not strip its cookie")
            return tok + ", cookie stripped"
        return tok + (", cookie forwarded" if cookie else "")

    def phase_hot(self):
        self.start_peers()
        variants = self.hot_variants()
        checks = {}
        for key, label, url, headers, _ in variants:
            checks[key] = self.check_variant(key, url, headers)
        log("hot path: %d variants x %d rounds x %d s, wrk -t1 -c%d"
            % (len(variants), ROUNDS, SECONDS, CONNS))
        for key, label, url, headers, _ in variants:      # warm-up
            wrk(url, headers, secs=1)
        rounds = {k: [] for k, *_ in variants}
        # b and c run back to back (their order flips every round), the
        # other variants rotate around them: a pair shares the machine's
        # conditions, and the paired ratios cancel slow drift
        pair = [v for v in variants if v[0] in ("plain", "coze")]
        rest = [v for v in variants if v[0] not in ("plain", "coze")]
        for r in range(ROUNDS):
            units = [pair if r % 2 == 0 else pair[::-1]] + [[v] for v in rest]
            k = r % len(units)
            order = [v for u in units[k:] + units[:k] for v in u]
            for key, label, url, headers, groups in order:
                c0 = group_cpu(groups)
                u0 = group_cpu([self.upstream.pid])
                if self.redis is not None:
                    r0 = group_cpu([self.redis.pid])
                    n0 = redis_commands(self.ports["redis"])
                ru = resource.getrusage(resource.RUSAGE_CHILDREN)
                w0 = ru.ru_utime + ru.ru_stime
                w = wrk(url, headers)
                w["cpu_s"] = group_cpu(groups) - c0
                ru = resource.getrusage(resource.RUSAGE_CHILDREN)
                w["wrk_cpu_s"] = ru.ru_utime + ru.ru_stime - w0
                w["up_cpu_s"] = group_cpu([self.upstream.pid]) - u0
                if self.redis is not None:
                    w["redis_cpu_s"] = group_cpu([self.redis.pid]) - r0
                    w["redis_cmds"] = redis_commands(self.ports["redis"]) \
                        - n0
                if w["errors"] or w["non2xx3xx"]:
                    raise BenchError("%s: %d errors, %d non-2xx/3xx" % (
                        key, w["errors"], w["non2xx3xx"]))
                rounds[key].append(w)
        hot = {}
        for key, label, *_ in variants:
            rs = rounds[key]
            hot[key] = {
                "label": label, "check": checks[key],
                "rps": statistics.median(x["rps"] for x in rs),
                "p50_us": statistics.median(x["p50_us"] for x in rs),
                "p99_us": statistics.median(x["p99_us"] for x in rs),
                "cpu_us_per_req": statistics.median(
                    x["cpu_s"] * 1e6 / max(1, x["requests"]) for x in rs),
                # share of one CPU used, by the tier under test and by the
                # load side (wrk + the upstream)
                "sut_busy": statistics.median(
                    x["cpu_s"] / x["seconds"] for x in rs),
                "load_busy": statistics.median(
                    (x["wrk_cpu_s"] + x["up_cpu_s"]) / x["seconds"]
                    for x in rs),
                "rounds_rps": [round(x["rps"]) for x in rs]}
            if self.redis is not None:
                # Redis commands and Redis CPU per request (Redis is on the
                # load CPU, with wrk and the upstream)
                hot[key]["redis_cmds_per_req"] = statistics.median(
                    x["redis_cmds"] / max(1, x["requests"]) for x in rs)
                hot[key]["redis_cpu_us_per_req"] = statistics.median(
                    x["redis_cpu_s"] * 1e6 / max(1, x["requests"])
                    for x in rs)
                hot[key]["load_busy"] = statistics.median(
                    (x["wrk_cpu_s"] + x["up_cpu_s"] + x["redis_cpu_s"])
                    / x["seconds"] for x in rs)
        base = hot["plain"]
        for h in hot.values():
            h["ratio"] = h["rps"] / base["rps"]
            h["cpu_ratio"] = base["cpu_us_per_req"] / h["cpu_us_per_req"] \
                if h["cpu_us_per_req"] else None
        # paired per-round ratio c/b (the rounds ran back to back)
        pairs = [c["rps"] / b["rps"] for c, b in zip(rounds["coze"],
                                                      rounds["plain"])]
        hot["coze"]["paired_ratios"] = [round(x, 3) for x in pairs]
        hot["coze"]["paired_median"] = statistics.median(pairs)
        if "coze_redis" in rounds:
            # (h) is not run next to (b) or (c), but in the same rounds:
            # the per-round ratios still share each round's conditions
            hr = rounds["coze_redis"]
            for ref in ("plain", "coze"):
                rr = [h["rps"] / b["rps"] for h, b in zip(hr, rounds[ref])]
                hot["coze_redis"]["round_ratios_" + ref] = [
                    round(x, 3) for x in rr]
                hot["coze_redis"]["round_median_" + ref] = \
                    statistics.median(rr)
        self.res["hot"] = hot
        for name in ("apache", "oidc", "authsvc"):
            p = getattr(self, name, None)
            if p is not None:
                self.procs.stop(p)

    # profile -----------------------------------------------------------------
    def phase_profile(self):
        P = self.ports
        n = CG_REQUESTS
        log("profile: callgrind, %d plain + %d authenticated requests" % (n, n))
        out = os.path.join(DIR, "cg", "callgrind.out")
        wrap = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                "--dump-instr=no", "--compress-strings=no"]
        p = self.start_nginx("cg", "front.conf.in", P["cg"], CPU_SUT,
                             master="off", wrap=wrap)
        pid = p.pid
        base = "http://127.0.0.1:%d" % P["cg"]

        def drive(path, count):
            ab(base + path, count, ["Cookie: " + self.coze_cookie], conc=4)

        def dump():
            run(["callgrind_control", "-d", str(pid)], 120)

        drive("/plain/x", 200)
        drive("/auth/x", 200)
        dump()                                    # .1: start + warm-up
        drive("/plain/x", n)
        dump()                                    # .2: plain
        drive("/auth/x", n)
        dump()                                    # .3: authenticated
        self.procs.stop(p)
        files = {}
        for f in os.listdir(os.path.join(DIR, "cg")):
            m = re.match(r"callgrind\.out\.(\d+)$", f)
            if m:
                files[int(m.group(1))] = os.path.join(DIR, "cg", f)
        if 2 not in files or 3 not in files:
            raise BenchError("callgrind dumps missing: %s" % sorted(files))

        def total(path):
            with open(path) as fh:
                for line in fh:
                    if line.startswith(("summary:", "totals:")):
                        return int(line.split()[1])
            raise BenchError("no totals in " + path)

        def per_fn(path, inclusive=False):
            argv = ["callgrind_annotate", "--threshold=100", "--auto=no"]
            if inclusive:
                argv.append("--inclusive=yes")
            r = run(argv + [path], 300)
            fns = {}
            for line in r.stdout.decode(errors="replace").splitlines():
                m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)"
                             r"(?:\s+\[(.*)\])?$", line)
                if not m or ":" not in m.group(2):
                    continue
                name = m.group(2).split(":", 1)[1]
                obj = os.path.basename(m.group(3) or "")
                fns[(name, obj)] = fns.get((name, obj), 0) + \
                    int(m.group(1).replace(",", ""))
            return fns

        plain, auth = total(files[2]), total(files[3])

        def self_costs(path, tot):
            # functions on the stack at a dump (main, ...) show the whole
            # total as their own: not a self cost
            return {k: v for k, v in per_fn(path).items() if v < 0.9 * tot}

        fp, fa = self_costs(files[2], plain), self_costs(files[3], auth)
        inc = per_fn(files[3], inclusive=True)
        delta = []
        for k in set(fp) | set(fa):
            d = (fa.get(k, 0) - fp.get(k, 0)) / n
            if d > 0:
                delta.append((d, k))
        delta.sort(reverse=True)
        best = {}
        for k, v in inc.items():
            if k[0].startswith("ngx_http_coze_auth"):
                best[k[0]] = max(best.get(k[0], 0), v)
        mod_incl = sorted(((v / n, (k, "")) for k, v in best.items()),
                          reverse=True)
        by_obj = {}
        for k in set(fp) | set(fa):
            by_obj[k[1] or "?"] = by_obj.get(k[1] or "?", 0) + \
                (fa.get(k, 0) - fp.get(k, 0)) / n
        self.res["profile"] = {
            "requests": n,
            "plain_ir_per_req": plain / n,
            "auth_ir_per_req": auth / n,
            "module_ir_per_req": (auth - plain) / n,
            "top_self_delta": [(round(d), "%s (%s)" % k) for d, k in
                               delta[:12]],
            "module_inclusive": [(round(d), k[0]) for d, k in mod_incl[:10]],
            "delta_by_object": sorted(((round(v), o) for o, v in
                                       by_obj.items() if abs(v) >= 50),
                                      reverse=True),
        }

    # slow Coze isolation --------------------------------------------------------
    def phase_isolate(self):
        P = self.ports
        url = "http://127.0.0.1:%d/direct" % P["front"]
        log("isolation: token endpoint +500 ms, %d logins in flight"
            % ISO_LOGINS)
        self.mock_call("POST", "/__mock/fault", {"clear": True})
        self.mock_call("POST", "/__mock/fault", {
            "endpoint": "token", "kind": "delay", "seconds": 0.5,
            "count": -1})
        idle = wrk(url, conns=4, secs=ISO_SECONDS)
        ramp = 3.0
        drv = self.procs.start(
            "iso-logins", [PY, "-B", os.path.join(BENCH, "login_load.py"),
                           "--base", "http://127.0.0.1:%d" % P["front"],
                           "--path", "/auth/iso", "--stagger", "0.6",
                           "--concurrency",
                           str(ISO_LOGINS), "--duration",
                           str(ramp + ISO_SECONDS + 1), "--timeout", "20"],
            nice=NICE_REMOTE)
        time.sleep(ramp)
        c0 = group_cpu([self.front.pid])
        loaded = wrk(url, conns=4, secs=ISO_SECONDS)
        cpu = group_cpu([self.front.pid]) - c0
        try:
            drv.wait(ISO_SECONDS + 60)
        except subprocess.TimeoutExpired:
            raise BenchError("the login driver did not finish")
        self.procs.stop(drv)
        with open(os.path.join(DIR, "logs", "iso-logins.out")) as f:
            d = json.loads(f.read().strip().splitlines()[-1])
        self.mock_call("POST", "/__mock/fault", {"clear": True})
        window = [nn for t, nn in d["inflight"]
                  if ramp <= t <= ramp + ISO_SECONDS]
        self.res["isolate"] = {
            "idle": idle, "loaded": loaded, "logins": d["logins"],
            "failures": d["failures"], "errors": d["errors"],
            "callback_ms": d["callback_ms"],
            "inflight_median": statistics.median(window) if window else 0,
            "inflight_min": min(window) if window else 0,
            "inflight_max": max(window) if window else 0,
            "worker_cpu_pct": 100 * cpu / ISO_SECONDS}

    # refresh storm --------------------------------------------------------------
    def phase_storm(self):
        script = os.path.join(BENCH, "refresh-storm.sh")
        if not os.path.exists(script):
            self.res["storm"] = {"skipped": "bench/refresh-storm.sh missing"}
            return
        log("refresh storm: bench/refresh-storm.sh (%d requests, %d at once,"
            " %d workers)" % (STORM_REQUESTS, STORM_CONC, STORM_WORKERS))
        # its own process group: on a timeout the whole group gets SIGTERM
        # and the script's exit trap stops its nginx and mock
        p = subprocess.Popen(
            ["bash", script], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            start_new_session=True, env=child_env({
                "REQUESTS": str(STORM_REQUESTS),
                "CONCURRENCY": str(STORM_CONC),
                "WORKERS": str(STORM_WORKERS), "MODULE": MODULE}))
        try:
            out, _ = p.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                out, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
            out += b"\n(timed out after 180 s)\n"
        text = out.decode(errors="replace")
        r = p
        with open(os.path.join(DIR, "logs", "refresh-storm.out"), "w") as f:
            f.write(text)
        calls = re.search(r"token calls \(refresh\):\s+(\d+)", text)
        fails = re.search(r"failures:\s+(\d+)", text)
        self.res["storm"] = {
            "rc": r.returncode,
            "calls": int(calls.group(1)) if calls else None,
            "failures": int(fails.group(1)) if fails else None,
            "requests": STORM_REQUESTS, "concurrency": STORM_CONC,
            "workers": STORM_WORKERS,
            "output": text.strip().splitlines()[-6:]}

    # login throughput -------------------------------------------------------------
    def phase_logins(self):
        P = self.ports
        log("login throughput: %d concurrent flows, %d s, 50 ms on token and"
            " users/me" % (LOGIN_CONC, LOGIN_SECONDS))
        self.mock_call("POST", "/__mock/fault", {"clear": True})
        self.mock_call("POST", "/__mock/fault", [
            {"endpoint": "token", "kind": "delay", "seconds": 0.05,
             "count": -1},
            {"endpoint": "users_me", "kind": "delay", "seconds": 0.05,
             "count": -1}])
        c0 = group_cpu([self.front.pid])
        m0 = group_cpu([self.mock.pid])
        t0 = time.time()
        r = run([PY, "-B", os.path.join(BENCH, "login_load.py"), "--base",
                 "http://127.0.0.1:%d" % P["front"], "--path", "/auth/tp",
                 "--concurrency", str(LOGIN_CONC), "--duration",
                 str(LOGIN_SECONDS)], LOGIN_SECONDS + 120)
        wall = time.time() - t0
        cpu = group_cpu([self.front.pid]) - c0
        mcpu = group_cpu([self.mock.pid]) - m0
        self.mock_call("POST", "/__mock/fault", {"clear": True})
        d = json.loads(r.stdout.decode().strip().splitlines()[-1])
        d.pop("inflight", None)
        d["nginx_cpu_us_per_login"] = cpu * 1e6 / max(1, d["logins"])
        d["mock_cpu_pct"] = 100 * mcpu / wall
        self.res["logins"] = d

    # memory -------------------------------------------------------------------------
    def phase_memory(self):
        P = self.ports
        log("memory: %d logins, %d authenticated requests (fast stand-in"
            " Coze)" % (MEM_LOGINS, MEM_REQUESTS))
        mem = self.start_nginx("mem", "front.conf.in", P["mem"], CPU_SUT,
                               COZE_PORT=P["upstream"])
        wpid = nginx_workers(mem.pid)[0]
        base = "http://127.0.0.1:%d" % P["mem"]
        st, hdrs, _ = http_req(P["mem"], "GET", "/oauth/callback?return_to=/")
        loc = dict(hdrs).get("Location", "")
        state = re.search(r"[?&]state=([^&]+)", loc)
        stc = [v.split(";", 1)[0] for k, v in hdrs
               if k.lower() == "set-cookie"]
        if st != 302 or not state or not stc:
            raise BenchError("mem: login start answered %d" % st)
        cb = "/oauth/callback?code=benchcode&state=" + state.group(1)
        st, hdrs, _ = http_req(P["mem"], "GET", cb,
                           headers={"Cookie": stc[0]})
        sess = [v.split(";", 1)[0] for k, v in hdrs
                if k.lower() == "set-cookie" and
                v.startswith("coze_session=") and
                not v.startswith("coze_session=;")]
        if st != 302 or not sess:
            raise BenchError("mem: callback answered %d without a session"
                             % st)
        samples = [("start", 0, 0, rss_kib(wpid))]

        def logins(count):
            # a login is a start (new state cookie, 302 to Coze) and a
            # callback (code exchange, users/me, session cookie, 302); the
            # state cookie of one start is replayed, as the module keeps no
            # server-side state for it; done in chunks of both kinds
            chunk = 10000
            while count > 0:
                k = min(chunk, count)
                ab(base + "/oauth/callback?return_to=/", k,
                   ["Cookie: " + stc[0]], expect=302)
                ab(base + cb, k, ["Cookie: " + stc[0]], expect=302)
                count -= k

        def requests(count):
            ab(base + "/auth/m", count, ["Cookie: " + sess[0]])

        warm = max(1000, MEM_LOGINS // 50)
        logins(warm)
        requests(max(10000, MEM_REQUESTS // 50))
        samples.append(("warm-up", warm, max(10000, MEM_REQUESTS // 50),
                        rss_kib(wpid)))
        t0 = time.time()
        done_l = 0
        for frac in (0.5, 0.5):
            k = int(MEM_LOGINS * frac)
            logins(k)
            done_l += k
            samples.append(("logins %d" % done_l, done_l, 0, rss_kib(wpid)))
        tl = time.time() - t0
        t0 = time.time()
        done_r = 0
        for frac in (0.5, 0.5):
            k = int(MEM_REQUESTS * frac)
            requests(k)
            done_r += k
            samples.append(("requests %d" % done_r, done_l, done_r,
                            rss_kib(wpid)))
        tr = time.time() - t0
        self.procs.stop(mem)
        self.res["memory"] = {"logins": MEM_LOGINS, "requests": MEM_REQUESTS,
                              "logins_per_s": MEM_LOGINS / tl,
                              "requests_per_s": MEM_REQUESTS / tr,
                              "samples": samples}

    # report ----------------------------------------------------------------------
    def table(self):
        r = self.res
        m = r["machine"]
        L = []
        w = 78
        L.append("=" * w)
        L.append("ngx_http_coze_auth_module benchmark  %s"
                 % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
        L.append("machine: %s x %s, Linux %s, load avg %s -> %s" % (
            m["nproc"], m["cpu"], m["kernel"], "/".join(m["loadavg_start"]),
            "/".join(m.get("loadavg_end", ["?"]))))
        L.append("nginx %s (Debian %s), module %s, Apache %s, mod_auth_openidc"
                 " %s," % (m["nginx"], m["nginx_deb"], m["module_commit"],
                           m["apache"], m["mod_auth_openidc"]))
        L.append("njs %s, wrk %s, valgrind %s, libcurl %s, OpenSSL %s,"
                 " Redis %s" % (m["njs"], m["wrk"], m["valgrind"],
                                m["libcurl"], m["openssl"], m["redis"]))
        if NICE_SUT:
            L.append("priority: servers under test, upstream, wrk and ab at"
                     " nice %d" % NICE_SUT)
        L.append("CPU pinning: %s" % (
            "servers under test on CPU 0; %s on CPU 1; mock Coze,\n  OIDC"
            " provider and login drivers unpinned at nice +10" % (
                "wrk, the upstream and Redis" if "redis_session" in r
                else "wrk and the upstream") if PIN else "off"))
        L.append("-" * w)
        if "hot" in r:
            h = r["hot"]
            L.append("HOT PATH  1 worker, wrk -t1 -c%d, %d interleaved rounds"
                     " x %d s, medians" % (CONNS, ROUNDS, SECONDS))
            L.append("%-36s %9s %8s %8s %8s %7s" % (
                "", "req/s", "p50 ms", "p99 ms", "CPU us", "vs (b)"))
            for k in ("direct", "plain", "coze", "authreq", "apache_cookie",
                      "apache_shm", "apache_plain", "coze_redis"):
                if k not in h:
                    continue
                x = h[k]
                L.append("%-36s %9.0f %8.3f %8.3f %8.1f %7.3f" % (
                    x["label"], x["rps"], x["p50_us"] / 1000,
                    x["p99_us"] / 1000, x["cpu_us_per_req"], x["ratio"]))
            c = h["coze"]
            cb = c["paired_median"]
            verdict = "PASS" if cb >= 0.95 else "MISS"
            goal = ", goal 0.98 %s" % ("met" if cb >= 0.98 else "not met")
            L.append("  c/b req/s = %.3f (median of paired rounds %s)" % (
                cb, c["paired_ratios"]))
            L.append("  bar c/b >= 0.95: %s%s" % (verdict, goal))
            L.append("  server CPU per request c/b: %.3f (b/c = %.3f)" % (
                c["cpu_us_per_req"] / h["plain"]["cpu_us_per_req"],
                c["cpu_ratio"]))
            if "coze_redis" in h:
                x = h["coze_redis"]
                L.append("  (h) = (c) in a server with coze_auth_session_store"
                         " redis (same worker)")
                L.append("  h/b req/s = %.3f, h/c = %.3f (medians of same-round"
                         " ratios); CPU per request h/c: %.3f" % (
                             x["round_median_plain"], x["round_median_coze"],
                             x["cpu_us_per_req"] / c["cpu_us_per_req"]))
                L.append("  Redis commands per request: (c) %.2f, (h) %.2f;"
                         " Redis CPU %.1f us per (h) request" % (
                             c["redis_cmds_per_req"],
                             x["redis_cmds_per_req"],
                             x["redis_cpu_us_per_req"]))
            L.append("  upstream saw: (c) %s;%s (d,e,f) %s" % (
                c["check"], " (h) %s;" % h["coze_redis"]["check"]
                if "coze_redis" in h else "",
                ", ".join(sorted({h[k]["check"] for k in h
                                  if k in ("authreq", "apache_cookie",
                                           "apache_shm")})) or "-"))
            L.append("  CPU us = front tier CPU (nginx worker; + njs service"
                     " for d; all Apache processes)")
            letter = {"plain": "b", "coze": "c", "coze_redis": "h"}
            ks = [k for k in letter if k in h]
            L.append("  CPU used (1.0 = one core): tier under test %s;"
                     " wrk + upstream%s %s" % (
                         ", ".join("%s %.2f" % (letter[k], h[k]["sut_busy"])
                                   for k in ks),
                         " + Redis" if "coze_redis" in h else "",
                         ", ".join("%s %.2f" % (letter[k], h[k]["load_busy"])
                                   for k in ks)))
            L.append("-" * w)
        if "profile" in r:
            p = r["profile"]
            L.append("PROFILE  callgrind, %d requests each, instructions per"
                     " request (nginx process)%s" % (
                         p["requests"], "" if m.get("perf_counters") else
                         "; perf: no hardware counters here"))
            L.append("  plain proxy %.0f, coze_auth %.0f: module +%.0f "
                     "(+%.0f%%)" % (p["plain_ir_per_req"], p["auth_ir_per_req"],
                                    p["module_ir_per_req"],
                                    100 * p["module_ir_per_req"]
                                    / p["plain_ir_per_req"]))
            L.append("  by library: " + ", ".join(
                "%s %+d" % (o, d) for d, o in p["delta_by_object"]))
            L.append("  where the extra instructions go (self cost, coze minus"
                     " plain, per request):")
            for d, name in p["top_self_delta"][:10]:
                L.append("    %7d  %s" % (d, name[:66]))
            L.append("  module functions, inclusive per request:")
            for d, name in p["module_inclusive"][:6]:
                L.append("    %7d  %s" % (d, name[:66]))
            L.append("-" * w)
        if "isolate" in r:
            i = r["isolate"]
            ok = i["loaded"]["p99_us"] < 20000
            L.append("SLOW COZE ISOLATION  1 worker, token endpoint +500 ms,"
                     " probe GET /direct (wrk -c4 %d s)" % ISO_SECONDS)
            L.append("  idle:   p50 %.3f ms  p99 %.3f ms  (%d req/s)" % (
                i["idle"]["p50_us"] / 1000, i["idle"]["p99_us"] / 1000,
                i["idle"]["rps"]))
            L.append("  loaded: p50 %.3f ms  p99 %.3f ms  (%d req/s)  logins"
                     " in flight median %d (min %d, max %d)" % (
                         i["loaded"]["p50_us"] / 1000,
                         i["loaded"]["p99_us"] / 1000, i["loaded"]["rps"],
                         i["inflight_median"], i["inflight_min"],
                         i["inflight_max"]))
            L.append("  p99 < 20 ms under load: %s; logins completed %d,"
                     " failed %d; callback p50 %s ms; worker CPU %.0f%%" % (
                         "PASS" if ok else "MISS", i["logins"],
                         i["failures"], i["callback_ms"]["p50"],
                         i["worker_cpu_pct"]))
            L.append("-" * w)
        if "storm" in r:
            s = r["storm"]
            if "skipped" in s:
                L.append("REFRESH STORM  not run: %s" % s["skipped"])
            else:
                ok = s["calls"] == 1 and s["failures"] == 0
                L.append("REFRESH STORM  %d requests, %d at once, %d workers,"
                         " one session in the refresh window" % (
                             s["requests"], s["concurrency"], s["workers"]))
                L.append("  token calls %s (must be 1), failures %s (must be"
                         " 0): %s" % (s["calls"], s["failures"],
                                      "PASS" if ok else "FAIL"))
            L.append("-" * w)
        if "logins" in r:
            g = r["logins"]
            L.append("LOGIN THROUGHPUT  full flow vs the mock Coze, +50 ms on"
                     " token and users/me, %d concurrent" % LOGIN_CONC)
            L.append("  %.0f logins/s (%d in %.1f s, %d failed); nginx CPU"
                     " %.0f us/login (%.0f logins/s per core); mock CPU"
                     " %.0f%%" % (
                         g["logins_per_s"], g["logins"], g["seconds"],
                         g["failures"], g["nginx_cpu_us_per_login"],
                         1e6 / max(1, g["nginx_cpu_us_per_login"]),
                         g["mock_cpu_pct"]))
            L.append("-" * w)
        if "memory" in r:
            mm = r["memory"]
            s = mm["samples"]
            L.append("MEMORY  worker RSS (KiB; anon = heap), %d logins then"
                     " %d authenticated requests" % (mm["logins"],
                                                     mm["requests"]))
            for name, _, _, v in s:
                L.append("  %-18s RSS %7d  anon %7d" % (name, v["VmRSS"],
                                                        v["RssAnon"]))
            gl = s[3][3]["RssAnon"] - s[2][3]["RssAnon"]
            gr = s[5][3]["RssAnon"] - s[4][3]["RssAnon"]
            L.append("  anon growth over the 2nd half of logins %+d KiB, of "
                     "requests %+d KiB (%.0f logins/s, %.0f req/s)" % (
                         gl, gr, mm["logins_per_s"], mm["requests_per_s"]))
            L.append("-" * w)
        for n in r["notes"]:
            L.append("note: " + n)
        L.append("total time %.0f s" % (time.time() - self.t_start))
        L.append("=" * w)
        return "\n".join(L)

    def main(self):
        self.prepare()
        self.res["settings"] = {
            "rounds": ROUNDS, "seconds": SECONDS, "conns": CONNS,
            "cg_requests": CG_REQUESTS, "iso_logins": ISO_LOGINS,
            "login_conc": LOGIN_CONC, "mem_logins": MEM_LOGINS,
            "mem_requests": MEM_REQUESTS, "pin": PIN, "ports": self.ports,
            "phases": PHASES}
        log("run dir %s, ports %d-%d" % (DIR, min(self.ports.values()),
                                         max(self.ports.values())))
        failed = []
        try:
            self.start_base()
            for name in ("hot", "profile", "isolate", "storm", "logins",
                         "memory"):
                if name not in PHASES:
                    continue
                try:
                    getattr(self, "phase_" + name)()
                except (BenchError, subprocess.TimeoutExpired, OSError,
                        ValueError, KeyError) as e:
                    failed.append(name)
                    self.res["notes"].append("phase %s failed: %s"
                                             % (name, e))
                    log("phase %s failed: %s" % (name, e))
        finally:
            self.procs.stop_all()
        self.res["machine"]["loadavg_end"] = \
            open("/proc/loadavg").read().split()[:3]
        text = self.table()
        print(text)
        with open(os.path.join(OUT, "summary.txt"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump(self.res, f, indent=1, default=str)
        return 1 if failed else 0


def main():
    b = Bench()

    def on_signal(sig, frame):
        b.procs.stop_all()
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return b.main()
    except BenchError as e:
        log("error: %s" % e)
        return 2
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())

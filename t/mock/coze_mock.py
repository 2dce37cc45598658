#!/usr/bin/env python3
"""Strict mock of Coze's OAuth and OpenAPI endpoints, with a scripted browser.

Used by the ngx_http_coze_auth_module Test::Nginx suite.  Python 3 stdlib plus
Debian's python3-cryptography, so run it with /usr/bin/python3:

    /usr/bin/python3 t/mock/coze_mock.py --port 0 --portfile /tmp/mock.port
        [--host 127.0.0.1] [--apps t/data/mock_apps.json]
        [--tls-cert t/data/server.pem --tls-key t/data/server.key
         [--tls-port 0 --tls-portfile /tmp/mock.tlsport]] [--verbose]

--port 0 picks a free port; the port number is written to --portfile (atomically)
once the socket listens.  With --tls-cert/--tls-key and no --tls-port the main
port speaks TLS; with --tls-port a second, TLS, listener shares all state with
the plain one.  Only loopback addresses are accepted for --host.

Roles (one server plays all of them):
  www   GET /api/permission/oauth2/authorize
        GET /api/permission/oauth2/workspace_id/{id}/authorize
        GET /oauth/device-activation?user_code=..        (device approval)
  api   POST /api/permission/oauth2/token
        POST /api/permission/oauth2/account/{id}/token, .../enterprise_id/{id}/token (JWT only)
        POST /api/permission/oauth2/[workspace_id/{id}/]device/code
        GET  /v1/users/me;  any other /v1/, /v2/, /v3/ path: authenticated echo
  app   any method under /__upstream/: echo of the request (the protected site)
  ctl   /__mock/...: control API and the browser driver (see the report / docs)

Choices where the shared spec (coze-oauth-spec.md) leaves things open; every one
is documented here and most can be changed with POST /__mock/config:
  * Auth errors: JSON {"error_code","error_message","error"} (error == error_code),
    status 400, except invalid_client (401) and access_deny (403).  Every
    response carries X-Tt-Logid (14-digit local time + 20 uppercase hex).
  * A spent, unknown, expired or foreign refresh token gets the configurable
    "refresh_error", by default 400 invalid_request "invalid request: refresh_token"
    (the spec's error table has no invalid_grant); set e.g.
    {"refresh_error": {"status": 400, "error_code": "invalid_grant",
    "error_message": "..."}} to test the other variant.
  * Codes: 10 min, single use, consumed only by a successful exchange (a
    failed attempt, e.g. a bad verifier, leaves the code usable).  A reused
    code also revokes the tokens it produced when "revoke_on_code_reuse" is on.
  * Refresh rotation: the old refresh token dies; the old access token stays
    valid unless "revoke_access_on_refresh" is on; the new refresh token gets a
    fresh 30-day life.
  * JWT: the jti is burnt once the JWT itself validates (even if the body is
    then rejected).  aud may be 127.0.0.1 or localhost, with or without any
    of the mock's ports, plus config "jwt_audiences".  iat may be up to
    "jwt_skew" (60) s in the future.  typ must be "JWT", alg "RS256".
  * Authorize: errors are a 400 HTML page (no redirect).  state is echoed when
    sent (even empty) and omitted when absent.  Consent "approve" (default),
    "deny" (302 with error=access_denied&error_description=..&state=..) or
    "deny_page" (200 HTML, no redirect); header X-Mock-Consent overrides.
  * token_type is not sent unless config "token_type" is set.
  * /v1/users/me and the OpenAPI echo accept czu_, czs_ and registered pat_/sat_
    tokens; more than one Authorization header is rejected (401, code 4100).
  * Faults "truncated", "wrong_content_type" and "huge" let the request be
    processed (codes consumed, tokens rotated) and only damage the answer;
    "status", "malformed", "reset" and "hang" do not process it.  Override
    with "process": true|false in the fault.
  * /__mock/reset clears tokens, codes, jtis, faults, logs, users and config
    added at run time and reloads the apps file; redirect URIs registered at
    run time (config or COZE_MOCK_REDIRECT_*) are kept.

Extra redirect URIs at start: COZE_MOCK_REDIRECT_PORTS="1985 8080" (and
TEST_NGINX_SERVER_PORT when set) registers http/https x 127.0.0.1/localhost x
COZE_MOCK_REDIRECT_PATHS (default /oauth/callback) on every web/pkce app;
COZE_MOCK_REDIRECT_URIS adds literal URIs.

Control API (JSON in and out):
  GET  /__mock/ping                      {"ok":true,"ports":{...}}
  POST /__mock/reset
  POST /__mock/config   {"access_ttl","refresh_ttl","code_ttl","token_type",
        "refresh_error","revoke_on_code_reuse","revoke_access_on_refresh",
        "jwt_skew","jwt_audiences","consent","clock_offset","device_*",
        "stream_delay","redirect_uris":{app|client_id|"*":[uri]},
        "users":{id:{user_name,nick_name,avatar_url}},"default_user",
        "apps":{app:{"disabled","client_secret","client_secrets"}}}
  GET  /__mock/config
  POST /__mock/fault    {"endpoint":authorize|token|users_me|openapi|upstream|
        device_code|device_activation|any, "grant_type", "path_re",
        "kind":delay|status|malformed|truncated|reset|hang|wrong_content_type|huge,
        "seconds","after" (delay only: handle the request at once, answer
        late),"status","error_code","error_message","code","msg","body",
        "content_type","headers","bytes","missing","process","count"(1; -1 = forever)}
        or a list of those; {"clear":true} empties the queue.  GET /__mock/faults.
  GET  /__mock/requests[?endpoint=&grant_type=&status=]   log since reset
  GET  /__mock/counts     {"token":3,"token:refresh_token":1,...}
  GET  /__mock/secrets    {"codes","access_tokens","refresh_tokens","jwts",
        "client_secrets","verifiers","device_codes","static_tokens","all"}
  POST /__mock/expire     {"access_token"|"token"|"refresh_token"|"code"|"user_id"
        : value} or {"all":true[,"refresh":true]}
  GET  /__mock/apps, /__mock/tokens    registry and live state
  POST /__mock/browse     scripted browser; see class Browser and t/001-mock.t
"""

import argparse
import base64
import copy
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import string
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
except ImportError:  # pragma: no cover
    sys.stderr.write("coze_mock: python3-cryptography is missing; "
                     "run with /usr/bin/python3\n")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, "t", "data")

B62 = string.ascii_letters + string.digits
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_BODY = 64 * 1024 * 1024

DEFAULT_CONFIG = {
    "access_ttl": 900,
    "refresh_ttl": 30 * 86400,
    "code_ttl": 600,
    "jwt_skew": 60,
    "jwt_audiences": [],
    "token_type": None,
    "refresh_error": {"status": 400, "error_code": "invalid_request",
                      "error_message": "invalid request: refresh_token"},
    "revoke_on_code_reuse": False,
    "revoke_access_on_refresh": False,
    "consent": "approve",
    "clock_offset": 0,
    "device_interval": 5,
    "device_enforce_interval": False,
    "device_code_ttl": 300,
    "stream_delay": 0.05,
}


# --------------------------------------------------------------------------
# small helpers

def rand62(n):
    return "".join(secrets.choice(B62) for _ in range(n))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(s):
    if not _B64URL_RE.match(s) or len(s) % 4 == 1:
        raise ValueError("bad base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def s256(verifier):
    return b64url(hashlib.sha256(verifier.encode("utf-8")).digest())


def new_logid():
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def resolve_path(p, base=None):
    """Find a file given relative to cwd, the repo, base dir or t/data."""
    if os.path.isabs(p):
        return p
    cands = [os.path.join(os.getcwd(), p), os.path.join(REPO, p)]
    if base:
        cands.append(os.path.join(base, p))
    cands += [os.path.join(DATA, p), os.path.join(DATA, os.path.basename(p))]
    for c in cands:
        if os.path.exists(c):
            return c
    return cands[0]


class Reply(Exception):
    """A complete answer; raised by handlers to short-circuit."""

    def __init__(self, status, body=b"", ctype="application/json; charset=utf-8",
                 headers=None, kind="json"):
        super().__init__(status)
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.ctype = ctype
        self.headers = list(headers or [])
        self.kind = kind
        self.obj = None      # the JSON object, when there is one
        self.stream = None   # list of (delay, bytes) for chunked answers
        self.close = False


def json_reply(status, obj, headers=None):
    r = Reply(status, jdump(obj), headers=headers)
    r.obj = obj
    return r


def auth_error(status, code, message):
    return json_reply(status, {"error_code": code, "error_message": message,
                               "error": code})


def invalid_request(param):
    return auth_error(400, "invalid_request", "invalid request: " + param)


def invalid_client(message="invalid client"):
    return auth_error(401, "invalid_client", message)


def api_error(req, status, code, msg):
    return json_reply(status, {"code": code, "msg": msg,
                               "detail": {"logid": req.logid}})


def html_page(title, text, extra=""):
    esc = lambda s: (s.replace("&", "&amp;").replace("<", "&lt;")
                     .replace(">", "&gt;").replace('"', "&quot;"))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
            "</head><body><h1>%s</h1><p id=\"reason\">%s</p>%s</body></html>\n"
            % (esc(title), esc(title), esc(text), extra)).encode("utf-8")


def authorize_error(req, reason):
    body = html_page("OAuth 错误", reason,
                     "<p>请求参数错误</p><p>logid: %s</p>" % req.logid)
    return Reply(400, body, "text/html; charset=utf-8", kind="html")


# --------------------------------------------------------------------------
# registry: apps, users, static tokens

class App:
    def __init__(self, name, d, base):
        self.name = name
        self.type = d.get("type") or d.get("client_type")
        self.display = d.get("name", name)
        self.client_id = str(d["client_id"])
        self.secrets = list(d.get("client_secrets", []))
        if d.get("client_secret"):
            self.secrets.insert(0, d["client_secret"])
        self.file_redirects = list(d.get("redirect_uris", []))
        self.disabled = bool(d.get("disabled"))
        self.owner = d.get("owner_user_id")
        self.keys = {}           # kid -> public key
        self.key_files = {}
        keys = list(d.get("keys", []))
        if d.get("public_key_id"):
            keys.insert(0, {"public_key_id": d["public_key_id"],
                            "public_key": d["public_key"]})
        for k in keys:
            path = resolve_path(k["public_key"], base)
            with open(path, "rb") as f:
                self.keys[k["public_key_id"]] = serialization.load_pem_public_key(f.read())
            self.key_files[k["public_key_id"]] = path
        self.kids = [k["public_key_id"] for k in keys]

    def public(self, extra_redirects):
        d = {"name": self.name, "type": self.type, "display_name": self.display,
             "client_id": self.client_id, "client_secrets": self.secrets,
             "disabled": self.disabled}
        if self.type in ("web", "pkce"):
            d["redirect_uris"] = self.file_redirects + extra_redirects
        if self.type == "jwt":
            d["public_key_ids"] = self.kids
            d["owner_user_id"] = self.owner
        if self.secrets:
            d["client_secret"] = self.secrets[0]
        return d


# --------------------------------------------------------------------------
# the mock's state

ENDPOINT_RES = [
    ("authorize", re.compile(r"^/api/permission/oauth2/(?:workspace_id/([^/]+)/)?authorize$")),
    ("token", re.compile(r"^/api/permission/oauth2/(?:(account|enterprise_id)/([^/]*)/)?token$")),
    ("device_code", re.compile(r"^/api/permission/oauth2/(?:workspace_id/([^/]+)/)?device/code$")),
    ("device_activation", re.compile(r"^/oauth/device-activation$")),
    ("users_me", re.compile(r"^/v1/users/me$")),
    ("openapi", re.compile(r"^/v[0-9]+/")),
    ("upstream", re.compile(r"^/__upstream(?:/|$)")),
    ("control", re.compile(r"^/__mock(?:/|$)")),
]

SECRET_KINDS = ("codes", "access_tokens", "refresh_tokens", "jwts", "client_secrets",
                "verifiers", "device_codes", "static_tokens")


def classify(path):
    for name, rx in ENDPOINT_RES:
        m = rx.match(path)
        if m:
            return name, m
    return "other", None


class Mock:
    def __init__(self, apps_path, verbose=False):
        self.lock = threading.RLock()
        self.apps_path = os.path.abspath(apps_path)
        self.verbose = verbose
        self.extra_redirects = {}     # app name -> [uri]
        self.ports = {"http": None, "https": None}
        self.reset_gen = 0
        self.reset()

    # -- lifecycle --------------------------------------------------------
    def _load_registry(self):
        with open(self.apps_path, encoding="utf-8") as f:
            d = json.load(f)
        base = os.path.dirname(self.apps_path)
        self.apps = {n: App(n, a, base) for n, a in d.get("apps", {}).items()}
        self.users = dict(d.get("users", {}))
        self.default_user = d.get("default_user") or next(iter(self.users), "7380000000000000001")
        self.static_tokens = dict(d.get("tokens", {}))

    def reset(self):
        with self.lock:
            self._load_registry()
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.codes = {}
            self.access = {}
            self.refresh = {}
            self.jtis = {}
            self.devices = {}
            self.faults = []
            self.log = []
            self.seq = 0
            self.expired_static = set()
            self.secrets = {k: {} for k in SECRET_KINDS}
            for a in self.apps.values():
                for s in a.secrets:
                    self.secrets["client_secrets"][s] = 1
            for t in self.static_tokens:
                self.secrets["static_tokens"][t] = 1
            self.reset_gen += 1

    def now(self):
        return time.time() + float(self.config.get("clock_offset") or 0)

    def inow(self):
        return int(self.now())

    def add_secret(self, kind, value):
        if isinstance(value, str) and value:
            with self.lock:
                self.secrets[kind][value] = 1

    # -- registry lookups ---------------------------------------------------
    def app_by_client_id(self, cid):
        for a in self.apps.values():
            if a.client_id == cid:
                return a
        return None

    def app_ref(self, ref):
        if ref in self.apps:
            return self.apps[ref]
        return self.app_by_client_id(ref)

    def redirect_uris(self, app):
        return app.file_redirects + self.extra_redirects.get(app.name, [])

    def register_redirects(self, spec):
        """spec: {app name | client_id | "*": [uri]} or a plain list (all apps)."""
        if isinstance(spec, list):
            spec = {"*": spec}
        added = 0
        with self.lock:
            for ref, uris in spec.items():
                if isinstance(uris, str):
                    uris = [uris]
                targets = ([a for a in self.apps.values() if a.type in ("web", "pkce")]
                           if ref == "*" else [self.app_ref(ref)])
                for a in targets:
                    if a is None:
                        raise ValueError("unknown app %r" % ref)
                    lst = self.extra_redirects.setdefault(a.name, [])
                    for u in uris:
                        if u not in lst and u not in a.file_redirects:
                            lst.append(u)
                            added += 1
        return added

    def user(self, uid):
        uid = str(uid)
        u = self.users.get(uid)
        if u is None:
            u = {"user_name": "mock_user_" + uid, "nick_name": "Mock User " + uid,
                 "avatar_url": "https://p.coze.test/avatar/%s.png"
                 % urllib.parse.quote(uid, safe="")}
            with self.lock:
                self.users.setdefault(uid, u)
        d = {"user_id": uid}
        d.update({k: u.get(k, "") for k in ("user_name", "nick_name", "avatar_url")})
        return d

    def audiences(self):
        auds = {"127.0.0.1", "localhost"}
        for p in self.ports.values():
            if p:
                auds |= {"127.0.0.1:%d" % p, "localhost:%d" % p}
        auds |= set(self.config.get("jwt_audiences") or [])
        return auds

    # -- token issuing ------------------------------------------------------
    def issue_user_tokens(self, app, user_id, workspace_id=None, origin="code"):
        now = self.inow()
        at = "czu_" + rand62(64)
        rt = rand62(72)
        exp = now + int(self.config["access_ttl"])
        with self.lock:
            self.access[at] = {"kind": "czu", "client_id": app.client_id, "app": app.name,
                               "user_id": user_id, "exp": exp, "revoked": False,
                               "workspace_id": workspace_id, "origin": origin,
                               "session_name": None, "refresh_token": rt}
            self.refresh[rt] = {"client_id": app.client_id, "app": app.name,
                                "user_id": user_id, "used": False, "revoked": False,
                                "exp": now + int(self.config["refresh_ttl"]),
                                "access_token": at, "workspace_id": workspace_id}
            self.secrets["access_tokens"][at] = 1
            self.secrets["refresh_tokens"][rt] = 1
        out = {"access_token": at, "expires_in": exp, "refresh_token": rt}
        if self.config.get("token_type"):
            out["token_type"] = self.config["token_type"]
        return out

    def lookup_token(self, tok):
        """Return info for a usable bearer token, else None."""
        with self.lock:
            t = self.access.get(tok)
            if t is not None:
                if t["revoked"] or self.now() >= t["exp"]:
                    return None
                return dict(t, token=tok)
            s = self.static_tokens.get(tok)
            if s is not None and tok not in self.expired_static:
                d = {"kind": s.get("kind", tok[:3]), "session_name": None,
                     "user_id": s.get("user_id"), "app": s.get("app"), "token": tok}
                if d["user_id"] is None and d["app"] in self.apps:
                    d["user_id"] = self.apps[d["app"]].owner
                return d
        return None

    # -- faults ---------------------------------------------------------------
    def add_faults(self, spec):
        items = spec if isinstance(spec, list) else [spec]
        with self.lock:
            for f in items:
                if not isinstance(f, dict):
                    raise ValueError("fault must be an object")
                if f.get("clear"):
                    self.faults = []
                    continue
                kind = f.get("kind")
                if kind not in ("delay", "status", "malformed", "truncated", "reset",
                                "hang", "wrong_content_type", "huge"):
                    raise ValueError("unknown fault kind %r" % kind)
                ep = f.get("endpoint", "token")
                if ep not in ("authorize", "token", "users_me", "openapi", "upstream",
                              "device_code", "device_activation", "any"):
                    raise ValueError("unknown fault endpoint %r" % ep)
                f = dict(f, endpoint=ep)
                f["count"] = int(f.get("count", 1))
                if f["count"] == 0:
                    continue
                self.faults.append(f)
        return len(self.faults)

    def take_fault(self, endpoint, grant_type, path):
        with self.lock:
            for i, f in enumerate(self.faults):
                if f["endpoint"] not in (endpoint, "any"):
                    continue
                if f.get("grant_type") and f["grant_type"] != grant_type:
                    continue
                if f.get("path_re") and not re.search(f["path_re"], path):
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                    if f["count"] == 0:
                        del self.faults[i]
                return dict(f)
        return None

    # -- request log ------------------------------------------------------------
    def log_request(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)

    def requests(self, endpoint=None, grant_type=None, status=None):
        with self.lock:
            out = []
            for e in self.log:
                if endpoint and e["endpoint"] != endpoint:
                    continue
                if grant_type and e.get("grant_type") != grant_type:
                    continue
                if status is not None and str(e.get("status")) != str(status):
                    continue
                out.append(dict(e))
            return out

    def counts(self):
        c = {}
        with self.lock:
            for e in self.log:
                c[e["endpoint"]] = c.get(e["endpoint"], 0) + 1
                if e.get("grant_type"):
                    k = "%s:%s" % (e["endpoint"], e["grant_type"])
                    c[k] = c.get(k, 0) + 1
        return c

    def count_of(self, key):
        """key: "token", "token:refresh_token", "token:refresh_token:200"."""
        if key.startswith("connections:"):
            eps = key[len("connections:"):].split("|")
            return len({e["client"] for e in self.requests()
                        if e["endpoint"] in eps})
        parts = key.split(":")
        if len(parts) > 2 and parts[1] == "urn":   # full URN grant
            ep, rest = parts[0], ":".join(parts[1:])
            st = None
            m = re.match(r"^(.*):(\d{3})$", rest)
            if m:
                rest, st = m.group(1), m.group(2)
            return len(self.requests(ep, rest, st))
        ep = parts[0]
        gt = parts[1] if len(parts) > 1 and parts[1] else None
        st = parts[2] if len(parts) > 2 else None
        return len(self.requests(ep, gt, st))

    # -- control operations ------------------------------------------------------
    def apply_config(self, d):
        if not isinstance(d, dict):
            raise ValueError("config must be an object")
        out = {}
        with self.lock:
            for k, v in d.items():
                if k == "redirect_uris":
                    out["redirect_uris_added"] = self.register_redirects(v)
                elif k == "users":
                    for uid, u in v.items():
                        self.users[str(uid)] = dict(u)
                elif k == "default_user":
                    self.default_user = str(v)
                elif k == "apps":
                    for ref, patch in v.items():
                        a = self.app_ref(ref)
                        if a is None:
                            raise ValueError("unknown app %r" % ref)
                        if "disabled" in patch:
                            a.disabled = bool(patch["disabled"])
                        if "client_secrets" in patch:
                            a.secrets = list(patch["client_secrets"])
                        if "client_secret" in patch:
                            a.secrets = [patch["client_secret"]]
                        for s in a.secrets:
                            self.secrets["client_secrets"][s] = 1
                elif k in DEFAULT_CONFIG:
                    self.config[k] = v
                else:
                    raise ValueError("unknown config key %r" % k)
            out["config"] = self.config
        return out

    def expire(self, d):
        n = 0
        past = self.inow() - 1
        with self.lock:
            if d.get("all"):
                for t in self.access.values():
                    t["exp"] = min(t["exp"], past)
                    n += 1
                self.expired_static |= set(self.static_tokens)
                if d.get("refresh"):
                    for r in self.refresh.values():
                        r["exp"] = min(r["exp"], past)
            for k in ("access_token", "token"):
                tok = d.get(k)
                if tok in self.access:
                    self.access[tok]["exp"] = past
                    n += 1
                elif tok in self.static_tokens:
                    self.expired_static.add(tok)
                    n += 1
            if d.get("refresh_token") in self.refresh:
                self.refresh[d["refresh_token"]]["exp"] = past
                n += 1
            if d.get("code") in self.codes:
                self.codes[d["code"]]["exp"] = past
                n += 1
            if d.get("user_id") is not None:
                for t in self.access.values():
                    if t.get("user_id") == str(d["user_id"]):
                        t["exp"] = past
                        n += 1
        return n

    def secrets_view(self):
        with self.lock:
            out = {k: list(v) for k, v in self.secrets.items()}
        allv = []
        for k in SECRET_KINDS:
            allv += out[k]
        out["all"] = allv
        return out


# --------------------------------------------------------------------------
# protocol handlers (pure-ish: take the mock and a Req, return/raise Reply)

class Req:
    pass


def parse_bearer(value):
    """None (no credential), ("bearer", value) or ("other", raw)."""
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    scheme, _, rest = v.partition(" ")
    if scheme.lower() != "bearer":
        return ("other", v)
    rest = rest.strip()
    if not rest:
        return None
    return ("bearer", rest)


def str_field(body, name):
    v = body.get(name)
    if not isinstance(v, str) or v == "":
        raise invalid_request(name)
    return v


def check_json_request(req):
    if req.method != "POST":
        raise auth_error(405, "invalid_request", "invalid request: method")
    ctype = req.header("content-type") or ""
    media, _, params = ctype.partition(";")
    if media.strip().lower() != "application/json":
        raise invalid_request("content-type")
    m = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.I)
    if m and m.group(1).lower() not in ("utf-8", "utf8"):
        raise invalid_request("content-type")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise invalid_request("body")
    if not isinstance(body, dict):
        raise invalid_request("body")
    return body


def client_app(mock, body, types):
    cid = str_field(body, "client_id")
    app = mock.app_by_client_id(cid)
    if app is None:
        raise invalid_client("invalid client: client_id")
    if app.disabled:
        raise auth_error(403, "access_deny",
                         "app: %s is currently deactivated by the owner" % app.display)
    if app.type not in types:
        raise auth_error(403, "access_deny", "invalid app type")
    return app


def client_auth(mock, req, app):
    auths = req.headers_all("authorization")
    if len(auths) > 1:
        raise invalid_request("authorization")
    cred = parse_bearer(auths[0] if auths else None)
    if cred:
        mock.add_secret("client_secrets", cred[1])
    if app.type == "web":
        if cred is None or cred[0] != "bearer":
            raise invalid_client()
        if not any(hmac.compare_digest(cred[1].encode(), s.encode()) for s in app.secrets):
            raise invalid_client()
    elif cred is not None:
        raise invalid_request("client_secret")


def handle_authorize(mock, req, m):
    if req.method not in ("GET", "HEAD"):
        raise Reply(405, html_page("405 Method Not Allowed", req.method),
                    "text/html; charset=utf-8", headers=[("Allow", "GET")], kind="html")
    workspace = urllib.parse.unquote(m.group(1)) if m.group(1) else None
    if workspace is not None and not workspace.isdigit():
        raise authorize_error(req, "invalid request: workspace_id")
    try:
        pairs = urllib.parse.parse_qsl(req.query, keep_blank_values=True,
                                       errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise authorize_error(req, "invalid request: query")
    q = {}
    for k, v in pairs:
        if k in q:
            raise authorize_error(req, "invalid request: duplicate " + k)
        q[k] = v
    if q.get("response_type") != "code":
        raise authorize_error(req, "invalid request: response_type")
    app = mock.app_by_client_id(q.get("client_id", ""))
    if app is None:
        raise authorize_error(req, "invalid request: client_id")
    if app.disabled:
        raise authorize_error(req, "access_deny: app: %s is currently deactivated "
                              "by the owner" % app.display)
    if app.type not in ("web", "pkce"):
        raise authorize_error(req, "access_deny: invalid app type")
    ruri = q.get("redirect_uri")
    if not ruri or ruri not in mock.redirect_uris(app):
        raise authorize_error(req, "invalid request: redirect_uri")
    challenge = method = None
    if app.type == "pkce":
        challenge = q.get("code_challenge")
        method = q.get("code_challenge_method") or "plain"
        if method not in ("plain", "S256"):
            raise authorize_error(req, "invalid request: code_challenge_method")
        if not challenge:
            raise authorize_error(req, "invalid request: code_challenge")
        if method == "S256" and not re.match(r"^[A-Za-z0-9_-]{43}$", challenge):
            raise authorize_error(req, "invalid request: code_challenge")
        if method == "plain" and not re.match(r"^[A-Za-z0-9._~-]{1,128}$", challenge):
            raise authorize_error(req, "invalid request: code_challenge")
    state = q.get("state")
    uid = (req.header("x-mock-user") or mock.default_user).strip()
    mock.user(uid)
    consent = (req.header("x-mock-consent") or mock.config.get("consent") or "approve").strip()
    sep = "&" if "?" in ruri else "?"
    st = "" if state is None else "&state=" + urllib.parse.quote(state, safe="")
    if consent == "deny_page":
        raise Reply(200, html_page("授权已取消", "The user cancelled the authorization."),
                    "text/html; charset=utf-8", kind="html")
    if consent == "deny":
        loc = (ruri + sep + "error=access_denied&error_description="
               + urllib.parse.quote("user denied the authorization", safe="") + st)
    else:
        code = "code_" + rand62(48)
        with mock.lock:
            mock.codes[code] = {"client_id": app.client_id, "app": app.name,
                                "redirect_uri": ruri, "challenge": challenge,
                                "method": method, "user_id": uid, "used": False,
                                "workspace_id": workspace, "tokens": [],
                                "exp": mock.now() + float(mock.config["code_ttl"])}
            mock.secrets["codes"][code] = 1
        loc = ruri + sep + "code=" + code + st
    raise Reply(302, html_page("Found", loc), "text/html; charset=utf-8",
                headers=[("Location", loc)], kind="html")


def grant_code(mock, req, body):
    app = client_app(mock, body, ("web", "pkce"))
    client_auth(mock, req, app)
    code = str_field(body, "code")
    mock.add_secret("codes", code)
    ruri = str_field(body, "redirect_uri")
    verifier = body.get("code_verifier")
    if isinstance(verifier, str):
        mock.add_secret("verifiers", verifier)
    with mock.lock:
        c = mock.codes.get(code)
        if c is None or mock.now() >= c["exp"] or c["used"]:
            if c is not None and c["used"] and mock.config.get("revoke_on_code_reuse"):
                for at in c["tokens"]:
                    t = mock.access.get(at)
                    if t:
                        t["revoked"] = True
                        r = mock.refresh.get(t.get("refresh_token"))
                        if r:
                            r["revoked"] = True
            raise invalid_request("code")
        if c["client_id"] != app.client_id:
            raise invalid_request("code")
        if c["redirect_uri"] != ruri:
            raise invalid_request("redirect_uri")
        if app.type == "pkce":
            if not isinstance(verifier, str) or not verifier:
                raise invalid_request("code_verifier")
            want = c["challenge"]
            got = s256(verifier) if c["method"] == "S256" else verifier
            if not hmac.compare_digest(want.encode(), got.encode()):
                raise invalid_request("code_verifier")
        c["used"] = True
        out = mock.issue_user_tokens(app, c["user_id"], c["workspace_id"], "code")
        c["tokens"].append(out["access_token"])
    return out


def grant_refresh(mock, req, body):
    app = client_app(mock, body, ("web", "pkce", "device"))
    client_auth(mock, req, app)
    rt = body.get("refresh_token")
    if isinstance(rt, str):
        mock.add_secret("refresh_tokens", rt)
    with mock.lock:
        r = mock.refresh.get(rt) if isinstance(rt, str) else None
        if (r is None or r["used"] or r["revoked"] or mock.now() >= r["exp"]
                or r["client_id"] != app.client_id):
            e = mock.config["refresh_error"]
            raise auth_error(int(e.get("status", 400)), e.get("error_code", "invalid_request"),
                             e.get("error_message", "invalid request: refresh_token"))
        r["used"] = True
        if mock.config.get("revoke_access_on_refresh"):
            t = mock.access.get(r["access_token"])
            if t:
                t["revoked"] = True
        return mock.issue_user_tokens(app, r["user_id"], r["workspace_id"], "refresh")


def grant_jwt(mock, req, body, path_kind, path_id):
    auths = req.headers_all("authorization")
    if len(auths) > 1:
        raise invalid_request("authorization")
    cred = parse_bearer(auths[0] if auths else None)
    if cred is None or cred[0] != "bearer":
        raise invalid_client("invalid jwt: missing")
    tok = cred[1]
    mock.add_secret("jwts", tok)
    parts = tok.split(".")
    if len(parts) != 3:
        raise invalid_client("invalid jwt: malformed")
    try:
        header = json.loads(b64url_decode(parts[0]).decode("utf-8"))
        claims = json.loads(b64url_decode(parts[1]).decode("utf-8"))
        sig = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise invalid_client("invalid jwt: malformed")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid_client("invalid jwt: malformed")
    if header.get("alg") != "RS256":
        raise invalid_client("invalid jwt: alg")
    if header.get("typ") != "JWT":
        raise invalid_client("invalid jwt: typ")
    kid = header.get("kid")
    app = key = None
    for a in mock.apps.values():
        if a.type == "jwt" and isinstance(kid, str) and kid in a.keys:
            app, key = a, a.keys[kid]
            break
    if key is None:
        raise invalid_client("invalid jwt: kid not been registred")
    try:
        key.verify(sig, (parts[0] + "." + parts[1]).encode("ascii"),
                   padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise invalid_client("invalid jwt: signature")
    now = mock.now()
    if claims.get("iss") != app.client_id:
        raise invalid_client("invalid jwt: iss")
    if not isinstance(claims.get("aud"), str) or claims["aud"] not in mock.audiences():
        raise invalid_client("invalid jwt: aud")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not is_int(iat) or iat > now + float(mock.config["jwt_skew"]):
        raise invalid_client("invalid jwt: iat")
    if not is_int(exp) or exp <= iat:
        raise invalid_client("invalid jwt: exp")
    if exp <= now:
        raise invalid_client("invalid jwt: token is expired")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise invalid_client("invalid jwt: jti")
    sname = claims.get("session_name")
    if sname is not None and not isinstance(sname, str):
        raise invalid_client("invalid jwt: session_name")
    sctx = claims.get("session_context")
    if sctx is not None and not isinstance(sctx, dict):
        raise invalid_client("invalid jwt: session_context")
    with mock.lock:
        key_j = app.client_id + "\0" + jti
        if key_j in mock.jtis:
            raise invalid_client("invalid jwt: jti has been used")
        mock.jtis[key_j] = exp
    if app.disabled:
        raise auth_error(403, "access_deny",
                         "app: %s is currently deactivated by the owner" % app.display)
    dur = body.get("duration_seconds")
    if dur is None:
        dur = 900
    if not is_int(dur) or not 1 <= dur <= 86399:
        raise invalid_request("duration_seconds")
    scope = body.get("scope")
    if scope is not None and not isinstance(scope, dict):
        raise invalid_request("scope")
    cid = body.get("client_id")
    if cid not in (None, "", app.client_id):
        raise invalid_request("client_id")
    for f in ("account_id", "enterprise_id"):
        v = body.get(f)
        if v is None or v == "" or v == 0:
            continue
        want = path_id if path_kind in (f, f.replace("_id", "")) else None
        if want is None or str(v) != want:
            raise invalid_request(f)
    if path_kind == "account" and not (path_id or "").isdigit():
        raise invalid_request("account_id")
    if path_kind == "enterprise_id" and not path_id:
        raise invalid_request("enterprise_id")
    at = "czs_" + rand62(64)
    exp_at = int(now) + dur
    with mock.lock:
        mock.access[at] = {"kind": "czs", "client_id": app.client_id, "app": app.name,
                           "user_id": app.owner, "exp": exp_at, "revoked": False,
                           "session_name": sname, "scope": scope, "kid": kid,
                           "account_id": path_id if path_kind == "account" else None,
                           "enterprise_id": path_id if path_kind == "enterprise_id" else None,
                           "origin": "jwt"}
        mock.secrets["access_tokens"][at] = 1
    out = {"access_token": at, "expires_in": exp_at}
    if mock.config.get("token_type"):
        out["token_type"] = mock.config["token_type"]
    return out


def grant_device(mock, req, body):
    app = client_app(mock, body, ("device",))
    client_auth(mock, req, app)
    dc = str_field(body, "device_code")
    mock.add_secret("device_codes", dc)
    with mock.lock:
        d = mock.devices.get(dc)
        if d is None or d["client_id"] != app.client_id or d["done"]:
            raise invalid_request("device_code")
        now = mock.now()
        if now >= d["exp"]:
            raise auth_error(400, "expired_token", "device code expired")
        if (mock.config.get("device_enforce_interval") and d["last_poll"]
                and now - d["last_poll"] < float(mock.config["device_interval"])):
            d["last_poll"] = now
            raise auth_error(400, "slow_down", "slow down")
        d["last_poll"] = now
        if d["state"] == "denied":
            d["done"] = True
            raise auth_error(400, "access_denied", "access denied")
        if d["state"] != "approved":
            raise auth_error(400, "authorization_pending", "authorization pending")
        d["done"] = True
        return mock.issue_user_tokens(app, d["user_id"], d["workspace_id"], "device")


def handle_token(mock, req, m):
    body = check_json_request(req)
    gt = body.get("grant_type")
    if not isinstance(gt, str) or not gt:
        raise invalid_request("grant_type")
    path_kind, path_id = m.group(1), (urllib.parse.unquote(m.group(2))
                                      if m.group(2) is not None else None)
    if path_kind and gt != JWT_GRANT:
        raise invalid_request("grant_type")
    if gt == "authorization_code":
        out = grant_code(mock, req, body)
    elif gt == "refresh_token":
        out = grant_refresh(mock, req, body)
    elif gt == JWT_GRANT:
        out = grant_jwt(mock, req, body, path_kind, path_id)
    elif gt == DEVICE_GRANT:
        out = grant_device(mock, req, body)
    else:
        raise auth_error(400, "unsupported_grant_type", "not supported grant type: " + gt)
    raise json_reply(200, out)


def handle_device_code(mock, req, m):
    body = check_json_request(req)
    app = client_app(mock, body, ("device",))
    auths = req.headers_all("authorization")
    cred = parse_bearer(auths[0] if auths else None)
    if cred is not None or len(auths) > 1:
        raise invalid_request("client_secret")
    dc = rand62(48)
    letters = string.ascii_uppercase
    uc = "-".join("".join(secrets.choice(letters) for _ in range(3)) for _ in range(3))
    ttl = int(mock.config["device_code_ttl"])
    with mock.lock:
        mock.devices[dc] = {"client_id": app.client_id, "user_code": uc, "state": "pending",
                            "user_id": None, "exp": mock.now() + ttl, "last_poll": 0,
                            "done": False, "workspace_id": m.group(1)}
        mock.secrets["device_codes"][dc] = 1
    raise json_reply(200, {"device_code": dc, "user_code": uc,
                           "verification_uri": req.base + "/oauth/device-activation",
                           "expires_in": ttl, "interval": int(mock.config["device_interval"])})


def handle_device_activation(mock, req, m):
    q = dict(urllib.parse.parse_qsl(req.query, keep_blank_values=True))
    uc = q.get("user_code", "")
    with mock.lock:
        for d in mock.devices.values():
            if d["user_code"] == uc and d["state"] == "pending" and mock.now() < d["exp"]:
                d["state"] = "denied" if q.get("deny") else "approved"
                d["user_id"] = (req.header("x-mock-user") or mock.default_user).strip()
                raise Reply(200, html_page("授权成功", d["state"]),
                            "text/html; charset=utf-8", kind="html")
    raise Reply(400, html_page("OAuth 错误", "invalid request: user_code"),
                "text/html; charset=utf-8", kind="html")


def bearer_info(mock, req):
    auths = req.headers_all("authorization")
    if len(auths) != 1:
        raise api_error(req, 401, 4100, "authentication is invalid")
    cred = parse_bearer(auths[0])
    if cred is None or cred[0] != "bearer":
        raise api_error(req, 401, 4100, "authentication is invalid")
    tok = cred[1]
    kind = tok.split("_", 1)[0]
    if kind in ("czu", "czs"):
        mock.add_secret("access_tokens", tok)
    elif kind in ("pat", "sat"):
        mock.add_secret("static_tokens", tok)
    info = mock.lookup_token(tok)
    if info is None:
        raise api_error(req, 401, 4100, "authentication is invalid")
    return info


def handle_users_me(mock, req, m):
    if req.method != "GET":
        raise api_error(req, 405, 4000, "method not allowed")
    info = bearer_info(mock, req)
    uid = info.get("user_id") or mock.default_user
    raise json_reply(200, {"code": 0, "msg": "", "data": mock.user(uid),
                           "detail": {"logid": req.logid}})


def echo_data(req, path_with_query=False):
    try:
        js = json.loads(req.body.decode("utf-8")) if req.body else None
    except (ValueError, UnicodeDecodeError):
        js = None
    return {"method": req.method, "path": req.target if path_with_query else req.path,
            "uri": req.path, "request_uri": req.target,
            "query": req.query, "args": {k: v for k, v in urllib.parse.parse_qsl(
                req.query, keep_blank_values=True)},
            "headers": req.header_dict(), "header_list": [list(h) for h in req.hlist],
            "body": req.body.decode("utf-8", "replace"), "json": js}


def handle_openapi(mock, req, m):
    info = bearer_info(mock, req)
    data = echo_data(req)
    data.update({"token_kind": info["kind"], "session_name": info.get("session_name"),
                 "user_id": info.get("user_id"), "client_id": info.get("client_id"),
                 "app": info.get("app"), "scope": info.get("scope")})
    if isinstance(data["json"], dict) and data["json"].get("stream") is True:
        r = Reply(200, b"", "text/event-stream; charset=utf-8")
        delay = float(mock.config.get("stream_delay") or 0)
        events = [("conversation.chat.created", {"id": "chat_1", "status": "created"}),
                  ("conversation.message.delta", {"content": "Hel"}),
                  ("conversation.message.delta", {"content": "lo"}),
                  ("conversation.chat.completed", {"id": "chat_1", "status": "completed",
                                                   "echo": data}),
                  ("done", "[DONE]")]
        r.stream = [(delay, ("event:%s\ndata:%s\n\n" % (
            ev, d if isinstance(d, str) else json.dumps(d, ensure_ascii=False))
        ).encode("utf-8")) for ev, d in events]
        raise r
    raise json_reply(200, {"code": 0, "msg": "", "data": data,
                           "detail": {"logid": req.logid}})


def handle_upstream(mock, req, m):
    data = echo_data(req, path_with_query=True)
    args = data["args"]
    if args.get("__delay"):
        time.sleep(float(args["__delay"]))
    status = int(args.get("__status") or 200)
    hdrs = []
    if args.get("__set_cookie"):
        hdrs.append(("Set-Cookie", args["__set_cookie"]))
    raise json_reply(status, data, headers=hdrs)


# --------------------------------------------------------------------------
# faults applied to answers

def fault_status_reply(req, endpoint, f):
    status = int(f.get("status", 500))
    if "body" in f:
        return Reply(status, str(f["body"]), f.get("content_type", "text/html"),
                     headers=[tuple(h) for h in f.get("headers", [])], kind="raw")
    if endpoint in ("authorize", "device_activation"):
        r = Reply(status, html_page("OAuth 错误", f.get("error_message", "Service internal error.")),
                  "text/html; charset=utf-8", kind="html")
    elif endpoint in ("users_me", "openapi"):
        r = api_error(req, status, f.get("code", 5000), f.get("msg", "internal error"))
    elif endpoint == "upstream":
        r = json_reply(status, {"error": f.get("error_message", "upstream fault")})
    else:
        code = f.get("error_code", "internal_error")
        r = auth_error(status, code, f.get("error_message", "Service internal error."))
    r.headers += [tuple(h) for h in f.get("headers", [])]
    return r


def mangle(reply, f):
    kind = f["kind"]
    if kind == "wrong_content_type":
        reply.ctype = f.get("content_type", "text/html; charset=utf-8")
    elif kind == "huge":
        n = int(f.get("bytes", 1024 * 1024))
        if reply.obj is not None and isinstance(reply.obj, dict):
            obj = {"x_padding": "x" * n}
            obj.update(reply.obj)
            reply.body = jdump(obj)
        else:
            reply.body += b" " * n
    elif kind == "truncated":
        reply.truncate = int(f.get("missing", max(16, len(reply.body) // 2)))
    return reply


# --------------------------------------------------------------------------
# HTTP server

class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, addr, mock, ssl_ctx=None):
        self.mock = mock
        self.ssl_ctx = ssl_ctx
        self.rst = set()
        self.rst_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_ctx is not None:
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def shutdown_request(self, request):
        with self.rst_lock:
            rst = request in self.rst
            self.rst.discard(request)
        if rst:
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.mock.verbose:
            import traceback
            traceback.print_exc()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "coze-mock/1.0"
    sys_version = ""
    timeout = 300

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle
        # plus delayed ACKs add ~40 ms to every call on a reused connection
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.mock.verbose:
            sys.stderr.write("coze_mock: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- input --------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(65537)
                if len(out) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def make_req(self):
        req = Req()
        req.method = self.command
        req.target = self.path
        sp = urllib.parse.urlsplit(self.path)
        req.path = sp.path
        req.query = sp.query
        req.hlist = [(k, v) for k, v in self.headers.items()]
        req.body = self.read_body()
        req.logid = new_logid()
        scheme = "https" if self.server.ssl_ctx is not None else "http"
        req.base = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        req.header = lambda n: next((v for k, v in req.hlist if k.lower() == n), None)
        req.headers_all = lambda n: [v for k, v in req.hlist if k.lower() == n]

        def header_dict():
            d = {}
            for k, v in req.hlist:
                k = k.lower()
                d[k] = d[k] + ", " + v if k in d else v
            return d
        req.header_dict = header_dict
        return req

    # -- output -------------------------------------------------------------
    def send_reply(self, req, r):
        self.send_response(r.status)
        self.send_header("Content-Type", r.ctype)
        self.send_header("X-Tt-Logid", req.logid)
        for k, v in r.headers:
            self.send_header(k, v)
        if r.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for delay, chunk in r.stream:
                if delay:
                    time.sleep(delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        trunc = getattr(r, "truncate", 0)
        self.send_header("Content-Length", str(len(r.body) + trunc))
        if trunc or r.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.body)
        self.wfile.flush()

    def send_rst(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        with self.server.rst_lock:
            self.server.rst.add(self.connection)
        self.close_connection = True

    def hang(self, limit):
        """Wait until the client closes, the mock is reset, or limit s."""
        mock = self.server.mock
        gen = mock.reset_gen
        end = time.time() + limit
        raw = socket.socket(fileno=os.dup(self.connection.fileno()))
        try:
            while time.time() < end and mock.reset_gen == gen:
                r, _, _ = select.select([raw], [], [], 0.1)
                if r:
                    try:
                        data = raw.recv(1, socket.MSG_PEEK)
                    except OSError:
                        break
                    if not data:
                        break
                    time.sleep(0.1)
        finally:
            raw.close()
        self.close_connection = True

    # -- main dispatch --------------------------------------------------------
    def dispatch(self):
        mock = self.server.mock
        started = time.time()
        try:
            req = self.make_req()
        except (ValueError, OSError):
            self.send_error(400)
            self.close_connection = True
            return
        endpoint, m = classify(req.path)
        if endpoint == "control":
            r = control(mock, req, self.server)
            self.send_reply(req, r)
            return
        entry = {"time": time.time(), "endpoint": endpoint, "method": req.method,
                 "path": req.path, "query": req.query,
                 "args": {k: v for k, v in urllib.parse.parse_qsl(req.query, keep_blank_values=True)},
                 "headers": req.header_dict(), "header_list": [list(h) for h in req.hlist],
                 "body": req.body[:65536].decode("utf-8", "replace"), "json": None,
                 "grant_type": None, "status": None, "fault": None,
                 "client": "%s:%s" % self.client_address[:2],
                 "tls": self.server.ssl_ctx is not None, "logid": req.logid}
        try:
            entry["json"] = json.loads(req.body.decode("utf-8")) if req.body else None
        except (ValueError, UnicodeDecodeError):
            pass
        if endpoint == "token" and isinstance(entry["json"], dict):
            gt = entry["json"].get("grant_type")
            entry["grant_type"] = gt if isinstance(gt, str) else None
        mock.log_request(entry)
        f = mock.take_fault(endpoint, entry["grant_type"], req.path)
        if f:
            entry["fault"] = f["kind"]
        try:
            r = self.answer(mock, req, endpoint, m, f)
        finally:
            entry["elapsed"] = round(time.time() - started, 4)
        if r is None:
            entry["status"] = 0
            return
        entry["status"] = r.status
        self.send_reply(req, r)

    def answer(self, mock, req, endpoint, m, f):
        kind = f["kind"] if f else None
        if kind == "delay" and f.get("after"):
            # answer late, but handle (check tokens, issue them) on arrival
            r = self.route(mock, req, endpoint, m)
            time.sleep(float(f.get("seconds", 1)))
            return r
        if kind == "delay":
            time.sleep(float(f.get("seconds", 1)))
        elif kind == "reset":
            self.send_rst()
            return None
        elif kind == "hang":
            self.hang(float(f.get("seconds", 600)))
            return None
        process = f.get("process") if f else None
        if kind in ("status", "malformed") and not process:
            if kind == "status":
                return fault_status_reply(req, endpoint, f)
            return Reply(200, f.get("body", '{"access_token": "czu_trunc'),
                         "application/json; charset=utf-8", kind="raw")
        if process is False and kind in ("truncated", "wrong_content_type", "huge"):
            r = json_reply(200, {"code": 0, "msg": "", "data": {}})
        else:
            r = self.route(mock, req, endpoint, m)
        if kind == "status":
            return fault_status_reply(req, endpoint, f)
        if kind == "malformed":
            return Reply(200, f.get("body", '{"access_token": "czu_trunc'),
                         "application/json; charset=utf-8", kind="raw")
        if kind in ("truncated", "wrong_content_type", "huge"):
            r = mangle(r, f)
        return r

    def route(self, mock, req, endpoint, m):
        handlers = {"authorize": handle_authorize, "token": handle_token,
                    "device_code": handle_device_code,
                    "device_activation": handle_device_activation,
                    "users_me": handle_users_me, "openapi": handle_openapi,
                    "upstream": handle_upstream}
        h = handlers.get(endpoint)
        try:
            if h is None:
                raise json_reply(404, {"code": 4200, "msg": "resource not found",
                                       "detail": {"logid": req.logid}})
            h(mock, req, m)
            raise json_reply(500, {"error": "handler returned nothing"})
        except Reply as r:
            return r


# --------------------------------------------------------------------------
# control API

def control(mock, req, server):
    op = req.path[len("/__mock"):].strip("/")
    q = {k: v for k, v in urllib.parse.parse_qsl(req.query, keep_blank_values=True)}
    try:
        body = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
    except (ValueError, UnicodeDecodeError) as e:
        return json_reply(400, {"error": "bad JSON: %s" % e})
    try:
        if op in ("", "ping"):
            return json_reply(200, {"ok": True, "ports": mock.ports})
        if op == "reset" and req.method == "POST":
            mock.reset()
            return json_reply(200, {"ok": True})
        if op == "config":
            if req.method == "POST":
                return json_reply(200, dict(mock.apply_config(body), ok=True))
            return json_reply(200, {"config": mock.config,
                                    "extra_redirect_uris": mock.extra_redirects})
        if op == "fault" and req.method == "POST":
            return json_reply(200, {"ok": True, "queued": mock.add_faults(body)})
        if op == "faults":
            if req.method in ("DELETE", "POST"):
                mock.add_faults({"clear": True})
            return json_reply(200, {"faults": mock.faults})
        if op == "requests":
            return json_reply(200, mock.requests(q.get("endpoint"), q.get("grant_type"),
                                                 q.get("status")))
        if op == "counts":
            return json_reply(200, mock.counts())
        if op == "secrets":
            return json_reply(200, mock.secrets_view())
        if op == "expire" and req.method == "POST":
            return json_reply(200, {"ok": True, "expired": mock.expire(body)})
        if op == "apps":
            return json_reply(200, {"apps": {n: a.public(mock.extra_redirects.get(n, []))
                                             for n, a in mock.apps.items()},
                                    "users": mock.users, "default_user": mock.default_user,
                                    "tokens": mock.static_tokens})
        if op == "tokens":
            with mock.lock:
                return json_reply(200, {"access": mock.access, "refresh": mock.refresh,
                                        "codes": mock.codes})
        if op == "browse" and req.method == "POST":
            text = Browser(mock, req, body).run()
            return Reply(200, text, "text/plain; charset=utf-8", kind="raw")
    except ValueError as e:
        return json_reply(400, {"error": str(e)})
    return json_reply(404, {"error": "unknown control call %s %s" % (req.method, req.path)})


# --------------------------------------------------------------------------
# the browser driver

class Cookie:
    __slots__ = ("name", "value", "domain", "host_only", "path", "secure", "httponly",
                 "samesite", "expires", "created", "raw")

    def view(self):
        return {k: getattr(self, k) for k in self.__slots__ if k != "created"}


def parse_http_date(s):
    try:
        t = email.utils.parsedate_tz(s.replace("-", " "))
        return email.utils.mktime_tz(t) if t else None
    except (TypeError, ValueError, OverflowError):
        return None


def split_set_cookie(line):
    """-> (name, value, [(attr_lower, value)], raw attribute text)."""
    first, _, attrs = line.partition(";")
    if "=" not in first:
        return None
    name, _, value = first.partition("=")
    out = []
    for a in attrs.split(";"):
        if not a.strip():
            continue
        k, _, v = a.partition("=")
        out.append((k.strip().lower(), v.strip()))
    return name.strip(), value.strip(), out, attrs


def is_deletion(attrs, now=None):
    now = time.time() if now is None else now
    for k, v in attrs:
        if k == "max-age":
            try:
                return int(v) <= 0
            except ValueError:
                pass
    for k, v in attrs:
        if k == "expires":
            t = parse_http_date(v)
            return t is not None and t <= now
    return False


def domain_match(host, domain):
    if host == domain:
        return True
    if re.match(r"^[0-9.]+$", host) or host.startswith("["):
        return False
    return host.endswith("." + domain)


class Jar:
    def __init__(self):
        self.cookies = []
        self.lock = threading.Lock()
        self.n = 0

    def set_from(self, line, url):
        p = split_set_cookie(line)
        if p is None:
            return
        name, value, attrs, _ = p
        if not name:
            return
        sp = urllib.parse.urlsplit(url)
        host = (sp.hostname or "").lower()
        c = Cookie()
        c.name, c.value, c.raw = name, value, line
        c.domain, c.host_only = host, True
        rpath = sp.path or "/"
        c.path = rpath[:rpath.rfind("/")] if rpath.count("/") > 1 else "/"
        c.secure = c.httponly = False
        c.samesite = None
        c.expires = None
        maxage = None
        for k, v in attrs:
            if k == "domain" and v:
                d = v.lstrip(".").lower()
                if not domain_match(host, d):
                    return
                c.domain, c.host_only = d, False
            elif k == "path" and v.startswith("/"):
                c.path = v
            elif k == "secure":
                c.secure = True
            elif k == "httponly":
                c.httponly = True
            elif k == "samesite":
                c.samesite = v
            elif k == "max-age":
                try:
                    maxage = int(v)
                except ValueError:
                    pass
            elif k == "expires":
                t = parse_http_date(v)
                if t is not None:
                    c.expires = t
        if maxage is not None:
            c.expires = time.time() + maxage if maxage > 0 else 0
        with self.lock:
            old = [x for x in self.cookies
                   if (x.name, x.domain, x.path) == (c.name, c.domain, c.path)]
            for x in old:
                self.cookies.remove(x)
            self.n += 1
            c.created = old[0].created if old else self.n
            if c.expires is not None and c.expires <= time.time():
                return
            self.cookies.append(c)

    def header_for(self, url):
        sp = urllib.parse.urlsplit(url)
        host = (sp.hostname or "").lower()
        path = sp.path or "/"
        now = time.time()
        out = []
        with self.lock:
            self.cookies = [c for c in self.cookies if c.expires is None or c.expires > now]
            for c in self.cookies:
                if c.host_only and host != c.domain:
                    continue
                if not c.host_only and not domain_match(host, c.domain):
                    continue
                if not (path == c.path or (path.startswith(c.path) and
                        (c.path.endswith("/") or path[len(c.path)] == "/"))):
                    continue
                if c.secure and sp.scheme != "https":
                    continue
                out.append(c)
        out.sort(key=lambda c: (-len(c.path), c.created))
        return "; ".join("%s=%s" % (c.name, c.value) for c in out)

    def find(self, name):
        with self.lock:
            return [c for c in self.cookies if c.name == name]

    def view(self):
        with self.lock:
            return [c.view() for c in self.cookies]


class Resp:
    """One hop's result."""

    def __init__(self):
        self.method = self.url = self.error = None
        self.status = 0
        self.reason = ""
        self.headers = []
        self.body = b""
        self.ms = 0
        self.sent = {}
        self._json = None
        self._json_done = False

    def header(self, name):
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    @property
    def json(self):
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def text(self):
        return self.body.decode("utf-8", "replace")

    def view(self):
        defaults = dict(Browser.DEFAULT_HEADERS)
        d = {"method": self.method, "url": self.url, "status": self.status,
             "location": self.header("location"), "set_cookie": self.set_cookies(),
             "headers": {k: v for k, v in self.headers
                         if k.lower() not in ("set-cookie", "date", "server")},
             "sent": {k: v for k, v in self.sent.items()
                      if k != "Host" and defaults.get(k) != v},
             "ms": self.ms}
        body = self.text()
        d["body"] = body if len(body) <= 2048 else body[:2048] + "...[%d bytes]" % len(self.body)
        if self.error:
            d["error"] = self.error
        return d


class StepResult:
    def __init__(self, hops):
        self.hops = hops

    @property
    def final(self):
        return self.hops[-1] if self.hops else Resp()


class Ctx:
    """Per-branch context: the previous response."""

    def __init__(self, last=None):
        self.last = last


_JSON_OPS = {"re", "exists", "ne", "type", "gt", "lt", "len", "not_re"}


def dig(obj, path):
    cur = obj
    for seg in path.split(".") if path else []:
        if isinstance(cur, list):
            try:
                cur = cur[int(seg)]
            except (ValueError, IndexError):
                raise KeyError(path)
        elif isinstance(cur, dict):
            if seg not in cur:
                raise KeyError(path)
            cur = cur[seg]
        else:
            raise KeyError(path)
    return cur


EXPECT_KEYS = {"error", "status", "location_re", "location_has_params", "location_lacks_params",
               "location_params", "url_re", "hops", "header_re", "no_header", "body_re",
               "body_not_re", "body", "set_cookie", "json", "requests", "jar", "jar_name",
               "time_max", "time_min"}
REQUEST_KEYS = {"get", "url", "method", "headers", "body", "jar", "follow", "timeout",
                "max_hops", "label", "expect", "save", "retry"}


class Browser:
    """POST /__mock/browse {"base"?, "timeout"?, "vars"?, "steps": [...]}.

    Base URL of the nginx under test: header X-Browse-Base or "base".  Reply:
    "PASS <n> checks" | "FAIL <k> of <n> checks", one line per failure,
    a blank line, then the JSON transcript.  Steps:
      request  {"get": path|URL, "method", "headers": {..}|[[n,v],..] (null
               drops a default), "body": str|JSON, "jar" ("main"; false = none),
               "follow" (false), "max_hops" (10), "timeout" (10 s), "label",
               "expect": {..}, "save": {var: "json.a.b"|"location_param.code"|
               "header.X"|"set_cookie.N"|"status"|"location"|"body"},
               "retry": {"timeout" (5), "interval" (0.02)}: repeat the
               request until "expect" holds, for state that the server
               writes after it has answered (checked once more at the end)}
      {"parallel": [[steps], ..], "expect": {"order": [labels], "first": label}}
      {"repeat": N, "concurrency": M, "request": {step}, "expect_all": {.. plus
               "requests", "distinct_bodies_max", "distinct_headers_min" {n: k}
               (at least k different values of response header n)}}
      {"mock": "reset" | {"reset","config","fault"|"faults","expire"}}
      {"cookie": {"jar", "name", "set": v | "op": flipbit|truncate|delete|append
               | "copy_from_jar": jar, "pos", "length", "text"}}
      {"abort": {"get", "method", "headers", "body", "jar", "after_ms", "rst",
               "until": {wait_until spec}}}  (until: close once it holds)
      {"wait_until": {"requests": {"endpoint", "grant_type", "count"}, "timeout"}}
      {"process": {"pid", "parent", "signal", "save": {var: "fds"|"pid"},
               "until": {"fds": n, "alive": bool}, "timeout" (5)}}  a local
               nginx process ("parent": its master): send a signal, save
               its open descriptor count, or wait until the count / its
               liveness is as given.  ${nginx_pid} is the pid of the worker
               that proxied this scenario when the request carried
               X-Browse-Pid: $pid.
      {"jwt": {"key", "kid", "app" ("jwt"), "header", "claims" (defaults: iss,
               aud 127.0.0.1:port, iat, exp now+600, jti; null removes),
               "signature": "flip"|"none", "save_as" ("jwt")}}
      {"set": {var: value}}   {"sleep": seconds}
    expect: status (int|list), location_re, location_has_params,
      location_lacks_params, location_params {n: re}, url_re, hops, header_re
      {n: re}, no_header [n], body, body_re, body_not_re, set_cookie {name:
      {present, deleted, attrs_re, attrs_not_re, value_re, max_len}}, json
      {path: value | {re, not_re, exists, ne, type, gt, lt, len}}, requests
      {"endpoint[:grant[:status]]": n | {min, max}; "connections:ep1|ep2":
      distinct client connections of those endpoints}, jar {name: {present,
      value_re}} (+ jar_name), time_min, time_max, error (true|regex; absent =
      a transport error fails).
    ${...} in any string: saved vars, now, now+N, now-N, now_ms, mock,
      mock_http, mock_https, mock_port, base, default_user, pat, sat, rand,
      rand:N, s256:X, urlenc:X, b64url:X, head:N:X (the first N characters
      of X), app.NAME.FIELD (client_id, client_secret, kid, kid2,
      redirect_uri, ...), cookie.JAR.NAME,
      last.status|location|body|json.PATH|header.N|location_param.N|
      set_cookie.N (previous step's response).  A string that is exactly one
      ${...} keeps the value's JSON type (numbers stay numbers).  Object
      keys are substituted too (as strings).
    """

    DEFAULT_HEADERS = [
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) coze-mock-browser/1.0"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ]

    def __init__(self, mock, req, scenario):
        self.mock = mock
        if isinstance(scenario, list):
            scenario = {"steps": scenario}
        if not isinstance(scenario, dict):
            raise ValueError("scenario must be an object or a list of steps")
        self.scenario = scenario
        self.base = (scenario.get("base") or req.header("x-browse-base") or "").rstrip("/")
        self.mock_base = req.base
        self.timeout = float(scenario.get("timeout", 10))
        self.jars = {}
        self.vars = dict(scenario.get("vars") or {})
        pid = req.header("x-browse-pid")
        if pid and pid.isdigit():
            self.vars.setdefault("nginx_pid", int(pid))
        self.lock = threading.RLock()
        self.checks = 0
        self.failures = []
        self.transcript = []

    # -- bookkeeping ---------------------------------------------------------------
    def jar(self, name):
        if name is None or name is False:
            return None
        with self.lock:
            return self.jars.setdefault(str(name), Jar())

    def check(self, sid, ok, msg):
        with self.lock:
            self.checks += 1
            if not ok:
                self.failures.append("step %s: %s" % (sid, msg))
        return ok

    def fail(self, sid, msg):
        self.check(sid, False, msg)

    # -- variables --------------------------------------------------------------------
    def var(self, expr, ctx):
        if expr == "now_ms":
            return int(self.mock.now() * 1000)
        m = re.match(r"^now\s*([+-]\s*\d+)?$", expr)
        if m:
            return int(self.mock.now()) + int((m.group(1) or "0").replace(" ", ""))
        if expr == "mock":
            return self.mock_base
        if expr == "mock_http" and self.mock.ports["http"]:
            return "http://127.0.0.1:%d" % self.mock.ports["http"]
        if expr == "mock_https" and self.mock.ports["https"]:
            return "https://127.0.0.1:%d" % self.mock.ports["https"]
        if expr == "mock_port":
            return int(self.mock_base.rsplit(":", 1)[1])
        if expr == "base":
            return self.base
        if expr == "default_user":
            return self.mock.default_user
        m = re.match(r"^head:(\d+):(.*)$", expr, re.S)
        if m:
            return m.group(2)[:int(m.group(1))]
        for fn in ("s256:", "urlenc:", "b64url:", "rand:"):
            if expr.startswith(fn):
                arg = expr[len(fn):]
                if fn == "s256:":
                    return s256(arg)
                if fn == "urlenc:":
                    return urllib.parse.quote(arg, safe="")
                if fn == "b64url:":
                    return b64url(arg.encode("utf-8"))
                return rand62(int(arg))
        if expr == "rand":
            return rand62(32)
        if expr in ("pat", "sat"):
            for t, d in self.mock.static_tokens.items():
                if d.get("kind", t[:3]) == expr:
                    return t
        if expr.startswith("app."):
            _, ref, field = (expr.split(".", 2) + [""])[:3]
            a = self.mock.app_ref(ref)
            if a is not None:
                pub = a.public(self.mock.extra_redirects.get(a.name, []))
                if field in ("kid", "public_key_id") and a.kids:
                    return a.kids[0]
                if field == "kid2" and len(a.kids) > 1:
                    return a.kids[1]
                if field == "redirect_uri" and pub.get("redirect_uris"):
                    return pub["redirect_uris"][0]
                if field in pub and not isinstance(pub[field], (list, dict)):
                    return pub[field]
            raise KeyError(expr)
        if expr.startswith("cookie."):
            _, jname, cname = (expr.split(".", 2) + ["", ""])[:3]
            cs = self.jar(jname).find(cname)
            if cs:
                return cs[-1].value
            raise KeyError(expr)
        if expr.startswith("last."):
            if ctx.last is None:
                raise KeyError(expr)
            return self.response_value(ctx.last, expr[5:])
        with self.lock:
            if expr in self.vars:
                return self.vars[expr]
        raise KeyError(expr)

    def response_value(self, res, path):
        r = res.final
        if path == "status":
            return r.status
        if path == "location":
            return r.header("location") or ""
        if path == "url":
            return r.url
        if path == "body":
            return r.text()
        if path == "json":
            return r.json
        if path.startswith("json."):
            if r.json is None:
                raise KeyError(path)
            return dig(r.json, path[5:])
        if path.startswith("header."):
            v = r.header(path[7:])
            if v is None:
                raise KeyError(path)
            return v
        if path.startswith("location_param."):
            qs = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("location") or "").query,
                                       keep_blank_values=True)
            if path[15:] not in qs:
                raise KeyError(path)
            return qs[path[15:]][0]
        if path.startswith("set_cookie."):
            name = path[11:]
            for h in reversed([h for x in res.hops for h in x.set_cookies()]):
                p = split_set_cookie(h)
                if p and p[0] == name:
                    return p[1]
            raise KeyError(path)
        raise KeyError(path)

    def subst(self, obj, ctx):
        if isinstance(obj, dict):
            # keys too: a state cookie's name comes from the state
            return {(str(self.subst(k, ctx)) if "${" in k else k): self.subst(v, ctx)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.subst(v, ctx) for v in obj]
        if not isinstance(obj, str) or "${" not in obj:
            return obj
        whole = re.match(r"^\$\{([^${}]*)\}$", obj)
        if whole:
            v = self.var(whole.group(1), ctx)
            return v if isinstance(v, (int, float, bool, dict, list)) or v is None else str(v)
        s = obj
        for _ in range(10):
            n = re.sub(r"\$\{([^${}]*)\}", lambda m: self._sv(m.group(1), ctx), s)
            if n == s:
                break
            s = n
            whole = re.match(r"^\$\{([^${}]*)\}$", s)
            if whole:
                return self.subst(s, ctx)
        return s

    def _sv(self, expr, ctx):
        v = self.var(expr, ctx)
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return str(v)

    # -- HTTP ----------------------------------------------------------------------------
    def url_of(self, target):
        if re.match(r"^https?://", target):
            return target
        if not self.base:
            raise ValueError("relative URL %r but no X-Browse-Base header or base field" % target)
        return self.base + (target if target.startswith("/") else "/" + target)

    def http(self, method, url, headers, body, timeout):
        r = Resp()
        r.method, r.url = method, url
        sp = urllib.parse.urlsplit(url)
        port = sp.port or (443 if sp.scheme == "https" else 80)
        target = (sp.path or "/") + ("?" + sp.query if sp.query else "")
        t0 = time.time()
        conn = None
        try:
            if sp.scheme == "https":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                conn = http.client.HTTPSConnection(sp.hostname, port, timeout=timeout,
                                                   context=ctx)
            else:
                conn = http.client.HTTPConnection(sp.hostname, port, timeout=timeout)
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            sent = {}
            names = {k.lower() for k, _ in headers}
            if "host" not in names:
                conn.putheader("Host", sp.netloc)
                sent["Host"] = sp.netloc
            for k, v in headers:
                conn.putheader(k, v)
                sent[k] = v if k not in sent else sent[k] + ", " + v
            if body is not None and "content-length" not in names:
                conn.putheader("Content-Length", str(len(body)))
            r.sent = sent
            conn.endheaders(body)
            resp = conn.getresponse()
            r.status, r.reason = resp.status, resp.reason
            r.headers = resp.getheaders()
            r.body = resp.read() if method != "HEAD" else b""
        except socket.timeout:
            r.error = "timeout after %ss" % timeout
        except (OSError, http.client.HTTPException) as e:
            r.error = "%s: %s" % (type(e).__name__, e)
        finally:
            if conn is not None:
                conn.close()
            r.ms = int((time.time() - t0) * 1000)
        return r

    def build_headers(self, step):
        """{lower name: [(name, value)]}: defaults, then the step's headers,
        given as an object (null removes a default) or a list of [name, value]
        pairs (repeated names are sent repeatedly)."""
        hdr = {k.lower(): [(k, v)] for k, v in self.DEFAULT_HEADERS}
        given = step.get("headers") or {}
        pairs = list(given.items()) if isinstance(given, dict) else [tuple(p) for p in given]
        seen = set()
        for k, v in pairs:
            lk = k.lower()
            if v is None:
                hdr.pop(lk, None)
                continue
            if lk not in seen:
                hdr[lk] = []
                seen.add(lk)
            hdr[lk].append((k, str(v)))
        return hdr

    def request(self, step, ctx, sid):
        target = step.get("get") or step.get("url") or step.get("request")
        if not isinstance(target, str):
            raise ValueError("request step needs \"get\"")
        url = self.url_of(target)
        method = (step.get("method") or ("POST" if "body" in step else "GET")).upper()
        hdr = self.build_headers(step)
        body = step.get("body")
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            if "content-type" not in hdr:
                hdr["content-type"] = [("Content-Type", "application/json")]
        if isinstance(body, str):
            body = body.encode("utf-8")
        jar = self.jar(step.get("jar", "main"))
        follow = bool(step.get("follow", False))
        timeout = float(step.get("timeout", self.timeout))
        max_hops = int(step.get("max_hops", 10))
        hops = []
        while True:
            hs = [kv for lst in hdr.values() for kv in lst]
            if jar is not None and "cookie" not in hdr:
                c = jar.header_for(url)
                if c:
                    hs.append(("Cookie", c))
            r = self.http(method, url, hs, body, timeout)
            hops.append(r)
            if jar is not None:
                for line in r.set_cookies():
                    jar.set_from(line, url)
            loc = r.header("location")
            if not (follow and r.status in (301, 302, 303, 307, 308) and loc):
                break
            if len(hops) > max_hops:
                self.fail(sid, "more than %d redirects" % max_hops)
                break
            url = urllib.parse.urljoin(url, loc)
            if r.status == 303 or (r.status in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
                hdr.pop("content-type", None)
        return StepResult(hops)

    # -- checks --------------------------------------------------------------------------
    def check_expect(self, sid, exp, res, ctx, quiet_count=None):
        """Apply expect to a StepResult; returns list of failure texts."""
        fails = []
        n = [0]

        def ck(ok, msg):
            n[0] += 1
            if not ok:
                fails.append(msg)

        unknown = set(exp) - EXPECT_KEYS
        if unknown:
            ck(False, "unknown expect keys %s" % sorted(unknown))
        r = res.final
        if "error" in exp:
            e = exp["error"]
            if e is True:
                ck(r.error is not None, "expected a transport error, got status %s" % r.status)
            elif e is False:
                ck(r.error is None, "transport error: %s" % r.error)
            else:
                ck(r.error is not None and re.search(e, r.error) is not None,
                   "error %r does not match /%s/" % (r.error, e))
        else:
            ck(r.error is None, "transport error: %s" % r.error)
        if "status" in exp:
            want = exp["status"]
            ok = r.status in want if isinstance(want, list) else r.status == want
            ck(ok, "status %s, expected %s" % (r.status, want))
        loc = r.header("location")
        if "location_re" in exp:
            ck(loc is not None and re.search(exp["location_re"], loc) is not None,
               "location %r does not match /%s/" % (loc, exp["location_re"]))
        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(loc or "").query, keep_blank_values=True)
        for name in exp.get("location_has_params", []):
            ck(name in qs, "location %r lacks parameter %s" % (loc, name))
        for name in exp.get("location_lacks_params", []):
            ck(name not in qs, "location %r has parameter %s" % (loc, name))
        for name, rx in (exp.get("location_params") or {}).items():
            v = qs.get(name, [None])[0]
            ck(v is not None and re.search(rx, v) is not None,
               "location parameter %s=%r does not match /%s/" % (name, v, rx))
        if "url_re" in exp:
            ck(re.search(exp["url_re"], r.url or "") is not None,
               "final url %r does not match /%s/" % (r.url, exp["url_re"]))
        if "hops" in exp:
            ck(len(res.hops) == exp["hops"], "%d hops, expected %s" % (len(res.hops), exp["hops"]))
        for name, rx in (exp.get("header_re") or {}).items():
            v = r.header(name)
            ck(v is not None and re.search(rx, v) is not None,
               "header %s %r does not match /%s/" % (name, v, rx))
        for name in exp.get("no_header", []):
            ck(r.header(name) is None, "unexpected header %s: %s" % (name, r.header(name)))
        text = r.text()
        if "body_re" in exp:
            ck(re.search(exp["body_re"], text, re.S) is not None,
               "body does not match /%s/: %r" % (exp["body_re"], text[:200]))
        if "body_not_re" in exp:
            mm = re.search(exp["body_not_re"], text, re.S)
            ck(mm is None, "body matches /%s/ at %r" % (exp["body_not_re"],
                                                        mm.group(0)[:100] if mm else ""))
        if "body" in exp:
            ck(text == exp["body"], "body %r, expected %r" % (text[:200], exp["body"]))
        for name, spec in (exp.get("set_cookie") or {}).items():
            lines = []
            for h in res.hops:
                for line in h.set_cookies():
                    p = split_set_cookie(line)
                    if p and p[0] == name:
                        lines.append(p)
            last = lines[-1] if lines else None
            if not isinstance(spec, dict):
                spec = {"present": bool(spec)}
            if "present" in spec:
                ck(bool(lines) == bool(spec["present"]),
                   "Set-Cookie %s %s" % (name, "missing" if spec["present"] else "present"))
            if "deleted" in spec:
                d = last is not None and is_deletion(last[2])
                ck(d == bool(spec["deleted"]), "Set-Cookie %s %s" % (
                    name, "not deleted" if spec["deleted"] else "deleted"))
            if "attrs_re" in spec:
                ck(last is not None and re.search(spec["attrs_re"], last[3]) is not None,
                   "Set-Cookie %s attributes %r do not match /%s/" % (
                       name, last[3] if last else None, spec["attrs_re"]))
            if "attrs_not_re" in spec:
                ck(last is not None and re.search(spec["attrs_not_re"], last[3]) is None,
                   "Set-Cookie %s attributes %r match /%s/" % (
                       name, last[3] if last else None, spec["attrs_not_re"]))
            if "value_re" in spec:
                ck(last is not None and re.search(spec["value_re"], last[1]) is not None,
                   "Set-Cookie %s value %r does not match /%s/" % (
                       name, last[1] if last else None, spec["value_re"]))
            if "max_len" in spec:
                ck(last is not None and len(last[1]) <= spec["max_len"],
                   "Set-Cookie %s value length %s > %s" % (
                       name, len(last[1]) if last else None, spec["max_len"]))
        for path, want in (exp.get("json") or {}).items():
            js = r.json
            try:
                got, have = dig(js, path), True
            except KeyError:
                got, have = None, False
            if js is None and not (isinstance(want, dict) and want.get("exists") is False):
                ck(False, "body is not JSON (wanted %s)" % path)
                continue
            if isinstance(want, dict) and want and set(want) <= _JSON_OPS:
                ok, why = True, []
                if "exists" in want and have != bool(want["exists"]):
                    ok = False
                    why.append("exists=%s" % have)
                if "re" in want and not (have and re.search(want["re"], got if isinstance(
                        got, str) else json.dumps(got))):
                    ok = False
                    why.append("no match /%s/" % want["re"])
                if "not_re" in want and have and re.search(want["not_re"], got if isinstance(
                        got, str) else json.dumps(got)):
                    ok = False
                    why.append("matches /%s/" % want["not_re"])
                if "ne" in want and (not have or got == want["ne"]):
                    ok = False
                    why.append("equals %r" % want["ne"])
                if "type" in want:
                    tn = {str: "string", int: "number", float: "number", bool: "boolean",
                          list: "array", dict: "object", type(None): "null"}.get(type(got))
                    if not have or tn != want["type"]:
                        ok = False
                        why.append("type %s" % tn)
                if "gt" in want and not (have and is_num(got) and got > want["gt"]):
                    ok = False
                    why.append("not > %s" % want["gt"])
                if "lt" in want and not (have and is_num(got) and got < want["lt"]):
                    ok = False
                    why.append("not < %s" % want["lt"])
                if "len" in want and not (have and hasattr(got, "__len__")
                                          and len(got) == want["len"]):
                    ok = False
                    why.append("len %s" % (len(got) if hasattr(got, "__len__") else None))
                ck(ok, "json %s = %s: %s" % (path, json.dumps(got)[:200], ", ".join(why)))
            else:
                ck(have and json_eq(got, want),
                   "json %s = %s, expected %s" % (path, json.dumps(got)[:200] if have
                                                  else "(missing)", json.dumps(want)))
        for key, want in (exp.get("requests") or {}).items():
            got = self.mock.count_of(key)
            if isinstance(want, dict):
                ok = want.get("min", 0) <= got <= want.get("max", 1 << 60)
            else:
                ok = got == want
            ck(ok, "mock saw %d %s requests, expected %s" % (got, key, json.dumps(want)))
        if "jar" in exp:
            jar = self.jar(exp.get("jar_name", "main"))
            for cname, spec in exp["jar"].items():
                cs = jar.find(cname) if jar else []
                if not isinstance(spec, dict):
                    spec = {"present": bool(spec)}
                if "present" in spec:
                    ck(bool(cs) == bool(spec["present"]), "jar cookie %s %s" % (
                        cname, "missing" if spec["present"] else "present"))
                if "value_re" in spec:
                    ck(bool(cs) and re.search(spec["value_re"], cs[-1].value) is not None,
                       "jar cookie %s value does not match /%s/" % (cname, spec["value_re"]))
        total = sum(h.ms for h in res.hops) / 1000.0
        if "time_max" in exp:
            ck(total <= exp["time_max"], "took %.3fs > %s" % (total, exp["time_max"]))
        if "time_min" in exp:
            ck(total >= exp["time_min"], "took %.3fs < %s" % (total, exp["time_min"]))
        if quiet_count is None:
            with self.lock:
                self.checks += n[0]
                self.failures += ["step %s: %s" % (sid, f) for f in fails]
        else:
            quiet_count.append(n[0])
        return fails

    # -- steps -----------------------------------------------------------------------------
    def run(self):
        steps = self.scenario.get("steps")
        if not isinstance(steps, list):
            raise ValueError("scenario needs a \"steps\" list")
        ctx = Ctx()
        self.run_steps(steps, ctx, "", self.transcript, None)
        head = ("PASS %d checks" % self.checks if not self.failures
                else "FAIL %d of %d checks" % (len(self.failures), self.checks))
        lines = [head] + self.failures + ["", json.dumps(
            {"steps": self.transcript, "vars": self.vars,
             "jars": {n: j.view() for n, j in self.jars.items()}},
            indent=1, ensure_ascii=False, default=str)]
        return "\n".join(lines) + "\n"

    def run_steps(self, steps, ctx, prefix, transcript, order):
        for i, step in enumerate(steps, 1):
            sid = "%s%d" % (prefix, i)
            if isinstance(step, dict) and step.get("label"):
                sid += " (%s)" % step["label"]
            rec = {"step": sid}
            transcript.append(rec)
            try:
                self.run_step(step, ctx, sid, rec)
            except (ValueError, KeyError, TypeError, OSError) as e:
                msg = ("unknown variable ${%s}" % e.args[0]) if isinstance(e, KeyError) else str(e)
                self.fail(sid, "bad step: %s" % msg)
                rec["error"] = msg
            if order is not None:
                with self.lock:
                    order.append(step.get("label", sid) if isinstance(step, dict) else sid)

    def run_step(self, step, ctx, sid, rec):
        if not isinstance(step, dict):
            raise ValueError("step must be an object")
        if "sleep" in step:
            time.sleep(float(step["sleep"]))
            return
        if "set" in step:
            vals = self.subst(step["set"], ctx)
            with self.lock:
                self.vars.update(vals)
            rec["set"] = vals
            return
        if "mock" in step:
            self.mock_step(self.subst(step["mock"], ctx), rec)
            return
        if "jwt" in step:
            self.jwt_step(self.subst(step["jwt"], ctx), rec)
            return
        if "cookie" in step:
            self.cookie_step(self.subst(step["cookie"], ctx), sid, rec)
            return
        if "wait_until" in step:
            self.wait_step(self.subst(step["wait_until"], ctx), sid, rec)
            return
        if "abort" in step:
            self.abort_step(self.subst(step["abort"], ctx), sid, rec)
            return
        if "process" in step:
            self.process_step(self.subst(step["process"], ctx), sid, rec)
            return
        if "parallel" in step:
            self.parallel_step(step, ctx, sid, rec)
            return
        if "repeat" in step:
            self.repeat_step(step, ctx, sid, rec)
            return
        if set(step) - REQUEST_KEYS:
            raise ValueError("unknown step keys %s" % sorted(set(step) - REQUEST_KEYS))
        s = {k: v for k, v in step.items()
             if k not in ("expect", "save", "label", "retry")}
        s = self.subst(s, ctx)
        exp = self.subst(step.get("expect") or {}, ctx)
        retry = step.get("retry") or {}
        deadline = time.time() + float(retry.get("timeout", 5))
        while True:
            res = self.request(s, ctx, sid)
            # state another party writes without waiting: await it
            if (retry and time.time() < deadline
                    and self.check_expect(sid, exp, res, ctx, quiet_count=[])):
                time.sleep(float(retry.get("interval", 0.02)))
                continue
            break
        rec["hops"] = [h.view() for h in res.hops]
        fails = self.check_expect(sid, exp, res, ctx)
        if fails:
            rec["failures"] = fails
        ctx.last = res
        for name, path in (step.get("save") or {}).items():
            try:
                v = self.response_value(res, path)
            except KeyError:
                self.fail(sid, "cannot save %s: no %s in response" % (name, path))
                continue
            with self.lock:
                self.vars[name] = v
            rec.setdefault("saved", {})[name] = v

    def mock_step(self, spec, rec):
        m = self.mock
        rec["mock"] = spec
        if spec == "reset" or (isinstance(spec, dict) and spec.get("reset")):
            m.reset()
            if spec == "reset":
                return
        if not isinstance(spec, dict):
            raise ValueError("bad mock step")
        if "config" in spec:
            m.apply_config(spec["config"])
        if "fault" in spec:
            m.add_faults(spec["fault"])
        if "faults" in spec:
            m.add_faults(spec["faults"])
        if "expire" in spec:
            rec["expired"] = m.expire(spec["expire"])

    def jwt_step(self, spec, rec):
        app = self.mock.app_ref(spec.get("app", "jwt"))
        if app is None:
            raise ValueError("jwt step: unknown app")
        keyp = resolve_path(spec.get("key", "t/data/jwt_private.pem"))
        with open(keyp, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        kid = spec.get("kid", app.kids[0] if app.kids else None)
        now = int(self.mock.now())
        port = int(self.mock_base.rsplit(":", 1)[1])
        claims = {"iss": app.client_id, "aud": "127.0.0.1:%d" % port, "iat": now,
                  "exp": now + 600, "jti": secrets.token_hex(16)}
        claims.update(spec.get("claims") or {})
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        header.update(spec.get("header") or {})
        header = {k: v for k, v in header.items() if v is not None}
        h = b64url(json.dumps(header, separators=(",", ":")).encode())
        p = b64url(json.dumps(claims, separators=(",", ":")).encode())
        sig = key.sign((h + "." + p).encode(), padding.PKCS1v15(), hashes.SHA256())
        mode = spec.get("signature")
        if mode == "none":
            sig = b""
        elif mode == "flip":
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        tok = h + "." + p + "." + b64url(sig)
        name = spec.get("save_as", "jwt")
        with self.lock:
            self.vars[name] = tok
        rec["jwt"] = {"save_as": name, "header": header, "claims": claims, "key": keyp}

    def cookie_step(self, spec, sid, rec):
        jar = self.jar(spec.get("jar", "main"))
        name = spec.get("name")
        rec["cookie"] = spec
        if "copy_from_jar" in spec:
            src = self.jar(spec["copy_from_jar"])
            cs = [c for c in src.cookies if name is None or c.name == name]
            if not cs:
                self.fail(sid, "no cookie %s in jar %s" % (name, spec["copy_from_jar"]))
            with jar.lock:
                for c in cs:
                    jar.cookies = [x for x in jar.cookies
                                   if (x.name, x.domain, x.path) != (c.name, c.domain, c.path)]
                    n = copy.copy(c)
                    jar.cookies.append(n)
            return
        if "set" in spec and not jar.find(name):
            host = urllib.parse.urlsplit(spec.get("url") or self.base or self.mock_base).hostname
            line = "%s=%s; Path=%s" % (name, spec["set"], spec.get("path", "/"))
            jar.set_from(line, "http://%s/" % host)
            return
        cs = jar.find(name)
        if not cs:
            self.fail(sid, "no cookie %s in jar %s" % (name, spec.get("jar", "main")))
            return
        op = spec.get("op")
        with jar.lock:
            for c in cs:
                if "set" in spec:
                    c.value = str(spec["set"])
                elif op == "flipbit":
                    v = c.value
                    if not v:
                        continue
                    pos = int(spec.get("pos", len(v) // 2)) % len(v)
                    alpha = B62 + "-_"
                    i = alpha.find(v[pos])
                    nc = alpha[(i + 1) % len(alpha)] if i >= 0 else "A"
                    c.value = v[:pos] + nc + v[pos + 1:]
                elif op == "truncate":
                    c.value = c.value[:int(spec.get("length", len(c.value) // 2))]
                elif op == "delete":
                    jar.cookies.remove(c)
                elif op == "append":
                    c.value += str(spec.get("text", "A"))
                else:
                    raise ValueError("cookie step: unknown op %r" % op)
        rec["after"] = [c.value for c in jar.find(name)]

    def wait_step(self, spec, sid, rec):
        timeout = float(spec.get("timeout", 5))
        end = time.time() + timeout
        reqs = spec.get("requests") or {}
        key = reqs.get("endpoint", "token")
        if reqs.get("grant_type"):
            key += ":" + reqs["grant_type"]
        want = int(reqs.get("count", 1))
        got = 0
        while True:
            got = self.mock.count_of(key)
            if got >= want:
                break
            if time.time() >= end:
                break
            time.sleep(0.02)
        rec["wait"] = {"key": key, "seen": got, "wanted": want}
        self.check(sid, got >= want, "wait_until timed out after %ss: %d %s requests < %d"
                   % (timeout, got, key, want))

    def abort_step(self, spec, sid, rec):
        url = self.url_of(spec.get("get") or spec.get("url"))
        sp = urllib.parse.urlsplit(url)
        method = (spec.get("method") or "GET").upper()
        body = spec.get("body")
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        body = (body or "").encode("utf-8")
        hdr = self.build_headers(spec)
        hs = [("Host", sp.netloc)] if "host" not in hdr else []
        hs += [kv for lst in hdr.values() for kv in lst]
        jar = self.jar(spec.get("jar", "main"))
        if jar is not None and "cookie" not in hdr:
            c = jar.header_for(url)
            if c:
                hs.append(("Cookie", c))
        if body or method in ("POST", "PUT"):
            hs.append(("Content-Length", str(len(body))))
        raw = "%s %s HTTP/1.1\r\n" % (method, (sp.path or "/") + ("?" + sp.query if sp.query else ""))
        raw += "".join("%s: %s\r\n" % kv for kv in hs) + "\r\n"
        s = socket.create_connection((sp.hostname, sp.port or 80), timeout=10)
        if sp.scheme == "https":
            c = ssl.create_default_context()
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
            s = c.wrap_socket(s, server_hostname=sp.hostname)
        s.sendall(raw.encode("utf-8") + body)
        if spec.get("until"):
            self.wait_step(spec["until"], sid, rec)
        else:
            time.sleep(float(spec.get("after_ms", 200)) / 1000.0)
        if spec.get("rst"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        rec["abort"] = {"url": url}
        rec["abort"].update({"until": spec["until"]} if spec.get("until")
                            else {"after_ms": spec.get("after_ms", 200)})

    @staticmethod
    def proc_state(pid):
        """(alive, open descriptors or None) of a local process."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False, None
        if state in ("Z", "X"):
            return False, None
        try:
            return True, len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            return True, None

    def process_step(self, spec, sid, rec):
        pid = int(spec["pid"])
        if spec.get("parent"):
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            comm = None
        info = {"pid": pid, "comm": comm}
        rec["process"] = info
        if comm is not None and not comm.startswith(("nginx", "memcheck")):
            raise ValueError("process %d is %r, not nginx" % (pid, comm))
        if spec.get("signal"):
            name = str(spec["signal"]).upper()
            os.kill(pid, getattr(signal, name if name.startswith("SIG") else "SIG" + name))
            info["signal"] = name
        for var, what in (spec.get("save") or {}).items():
            alive, fds = self.proc_state(pid)
            if what not in ("fds", "pid") or (what == "fds" and fds is None):
                self.fail(sid, "cannot save %s of process %d" % (what, pid))
                continue
            v = fds if what == "fds" else pid
            with self.lock:
                self.vars[var] = v
            info.setdefault("saved", {})[var] = v
        until = spec.get("until")
        if until:
            end = time.time() + float(spec.get("timeout", 5))
            while True:
                alive, fds = self.proc_state(pid)
                ok = (("alive" not in until or alive == bool(until["alive"]))
                      and ("fds" not in until or fds == int(until["fds"])))
                if ok or time.time() >= end:
                    break
                time.sleep(0.02)
            info["seen"] = {"alive": alive, "fds": fds}
            if fds is not None and "fds" in until:
                try:
                    info["fd_list"] = sorted(os.readlink("/proc/%d/fd/%s" % (pid, n))
                                             for n in os.listdir("/proc/%d/fd" % pid))
                except OSError:
                    pass
            self.check(sid, ok, "process %d: alive %s, %s descriptors; wanted %s within %ss"
                       % (pid, alive, fds, json.dumps(until), spec.get("timeout", 5)))

    def parallel_step(self, step, ctx, sid, rec):
        branches = step["parallel"]
        order = []
        rec["branches"] = [[] for _ in branches]
        threads = []
        for b, steps in enumerate(branches, 1):
            if isinstance(steps, dict):
                steps = [steps]
            t = threading.Thread(target=self.run_steps, daemon=True, args=(
                steps, Ctx(ctx.last), "%s.%d." % (sid.split(" ")[0], b),
                rec["branches"][b - 1], order))
            threads.append(t)
            t.start()
        for t in threads:
            t.join()
        rec["order"] = order
        exp = step.get("expect") or {}
        if set(exp) - {"order", "first"}:
            self.fail(sid, "unknown expect keys %s" % sorted(set(exp) - {"order", "first"}))
        if "order" in exp:
            self.check(sid, order == exp["order"], "order %s, expected %s" % (order, exp["order"]))
        if "first" in exp:
            self.check(sid, bool(order) and order[0] == exp["first"],
                       "first to finish %s, expected %s" % (order[:1], exp["first"]))

    def repeat_step(self, step, ctx, sid, rec):
        n = int(step["repeat"])
        conc = max(1, int(step.get("concurrency", 1)))
        tmpl = step.get("request") or {}
        exp = dict(step.get("expect_all") or {})
        exp.update(tmpl.get("expect") or {})
        exp = self.subst(exp, ctx)
        agg = {k: exp.pop(k) for k in ("requests", "distinct_bodies_max",
                                       "distinct_headers_min") if k in exp}
        results = [None] * n
        idx = [0]
        lk = threading.Lock()

        def worker():
            while True:
                with lk:
                    i = idx[0]
                    idx[0] += 1
                if i >= n:
                    return
                s = {k: v for k, v in tmpl.items() if k not in ("expect", "save", "label")}
                s = self.subst(s, ctx)
                results[i] = self.request(s, ctx, sid)

        ths = [threading.Thread(target=worker, daemon=True) for _ in range(min(conc, n))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        statuses, bodies, fail_count = {}, {}, {}
        bad = 0
        for res in results:
            f = res.final
            key = str(f.status) if not f.error else "error"
            statuses[key] = statuses.get(key, 0) + 1
            b = f.text()[:300]
            bodies[b] = bodies.get(b, 0) + 1
            fl = self.check_expect(sid, exp, res, ctx, quiet_count=[])
            if fl:
                bad += 1
            for msg in fl:
                fail_count[msg[:200]] = fail_count.get(msg[:200], 0) + 1
        self.check(sid, bad == 0, "%d of %d responses failed: %s" % (
            bad, n, "; ".join("%s (x%d)" % kv for kv in list(fail_count.items())[:3])))
        if "distinct_bodies_max" in agg:
            self.check(sid, len(bodies) <= agg["distinct_bodies_max"],
                       "%d distinct bodies > %s" % (len(bodies), agg["distinct_bodies_max"]))
        for name, want in (agg.get("distinct_headers_min") or {}).items():
            vals = {r.final.header(name) for r in results} - {None}
            self.check(sid, len(vals) >= int(want), "%d distinct %s headers < %s: %s"
                       % (len(vals), name, want, sorted(vals)[:5]))
        for key, want in (agg.get("requests") or {}).items():
            got = self.mock.count_of(key)
            ok = (want.get("min", 0) <= got <= want.get("max", 1 << 60)
                  if isinstance(want, dict) else got == want)
            self.check(sid, ok, "mock saw %d %s requests, expected %s" % (got, key, json.dumps(want)))
        rec["summary"] = {"count": n, "concurrency": conc, "statuses": statuses,
                          "distinct_bodies": len(bodies),
                          "bodies": dict(list(bodies.items())[:5])}
        if results:
            rec["sample"] = [h.view() for h in results[0].hops]
            ctx.last = results[-1]


def json_eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b))
    if is_num(a) and is_num(b):
        return a == b
    return type(a) is type(b) and a == b


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------
# main

def env_redirects(mock):
    uris = []
    ports = re.split(r"[,\s]+", os.environ.get("COZE_MOCK_REDIRECT_PORTS", "").strip())
    if os.environ.get("TEST_NGINX_SERVER_PORT"):
        ports.append(os.environ["TEST_NGINX_SERVER_PORT"])
    paths = re.split(r"[,\s]+", os.environ.get("COZE_MOCK_REDIRECT_PATHS",
                                              "/oauth/callback").strip())
    for p in ports:
        if not p.isdigit():
            continue
        for host in ("127.0.0.1", "localhost"):
            for scheme in ("http", "https"):
                for path in paths:
                    if path:
                        uris.append("%s://%s:%s%s" % (scheme, host, p, path))
    uris += [u for u in re.split(r"[,\s]+", os.environ.get("COZE_MOCK_REDIRECT_URIS", "")) if u]
    if uris:
        mock.register_redirects({"*": uris})


def write_portfile(path, port):
    if not path:
        return
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Strict mock Coze server for the Test::Nginx suite")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--apps", default=os.path.join(DATA, "mock_apps.json"))
    ap.add_argument("--portfile")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--tls-portfile")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost") and not a.host.startswith("127."):
        ap.error("only loopback addresses are allowed")
    host = "127.0.0.1" if a.host == "localhost" else a.host
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    sctx = None
    if a.tls_cert:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(resolve_path(a.tls_cert), resolve_path(a.tls_key))
    mock = Mock(resolve_path(a.apps), verbose=a.verbose)
    env_redirects(mock)
    servers = []
    main_tls = sctx is not None and a.tls_port is None
    srv = MockServer((host, a.port), mock, sctx if main_tls else None)
    mock.ports["https" if main_tls else "http"] = srv.server_address[1]
    servers.append(srv)
    if sctx is not None and a.tls_port is not None:
        tsrv = MockServer((host, a.tls_port), mock, sctx)
        mock.ports["https"] = tsrv.server_address[1]
        servers.append(tsrv)
        write_portfile(a.tls_portfile, tsrv.server_address[1])
    write_portfile(a.portfile, srv.server_address[1])
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if a.verbose:
        sys.stderr.write("coze_mock: listening on %s\n" % mock.ports)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

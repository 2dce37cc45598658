#!/usr/bin/env python3
"""Minimal OpenID Connect provider for the Apache + mod_auth_openidc peer.

Loopback only, stdlib plus Debian's python3-cryptography (run it with
/usr/bin/python3).  It exists so that mod_auth_openidc can complete one real
login and then hold an established session; it is not a conformance test.

    /usr/bin/python3 bench/oidc_provider.py --port 31806 \
        --client-id bench-client --client-secret bench-secret

Endpoints (issuer http://127.0.0.1:PORT):
  GET  /.well-known/openid-configuration   discovery
  GET  /jwks                               the RSA public key (RS256)
  GET  /authorize   auto-approves: 302 to redirect_uri?code=..&state=..
  POST /token       authorization_code (client_secret_basic or _post):
                    access_token, token_type, expires_in, id_token (RS256,
                    iss/sub/aud/exp/iat/nonce)
  GET  /userinfo    {"sub": ..., "name": ...} for a bearer access token
"""

import argparse
import base64
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def int_b64url(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Provider:
    def __init__(self, issuer, client_id, client_secret):
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.kid = "bench-" + secrets.token_hex(4)
        self.codes = {}        # code -> (nonce, redirect_uri, expiry)
        self.tokens = {}       # access token -> sub
        self.lock = threading.Lock()

    def jwks(self):
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256",
                          "kid": self.kid, "n": int_b64url(pub.n),
                          "e": int_b64url(pub.e)}]}

    def discovery(self):
        i = self.issuer
        return {
            "issuer": i,
            "authorization_endpoint": i + "/authorize",
            "token_endpoint": i + "/token",
            "userinfo_endpoint": i + "/userinfo",
            "jwks_uri": i + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["sub", "name", "iss", "aud", "exp", "iat"],
        }

    def id_token(self, sub, nonce):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {"iss": self.issuer, "sub": sub, "aud": self.client_id,
                  "iat": now, "exp": now + 3600, "name": "Bench User"}
        if nonce:
            claims["nonce"] = nonce
        signing_input = (b64url(json.dumps(header).encode()) + "."
                         + b64url(json.dumps(claims).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(),
                            hashes.SHA256())
        return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-oidc/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("oidc: " + fmt % args + "\n")

    def reply(self, status, body=b"", ctype="application/json",
              headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        p = self.server.provider
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            return self.reply(200, p.discovery())
        if url.path == "/jwks":
            return self.reply(200, p.jwks())
        if url.path == "/authorize":
            if (q.get("client_id") != p.client_id
                    or q.get("response_type") != "code"
                    or not q.get("redirect_uri")):
                return self.reply(400, {"error": "invalid_request"})
            code = secrets.token_urlsafe(24)
            with p.lock:
                p.codes[code] = (q.get("nonce"), q["redirect_uri"],
                                 time.time() + 600)
            sep = "&" if "?" in q["redirect_uri"] else "?"
            loc = q["redirect_uri"] + sep + urllib.parse.urlencode(
                {"code": code, "state": q.get("state", "")})
            return self.reply(302, b"", "text/plain", [("Location", loc)])
        if url.path == "/userinfo":
            auth = self.headers.get("Authorization", "")
            with p.lock:
                sub = p.tokens.get(auth[7:]) if auth.startswith("Bearer ") \
                    else None
            if sub is None:
                return self.reply(401, {"error": "invalid_token"})
            return self.reply(200, {"sub": sub, "name": "Bench User"})
        return self.reply(404, {"error": "not_found"})

    def do_POST(self):
        p = self.server.provider
        n = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        if self.path.split("?")[0] != "/token":
            return self.reply(404, {"error": "not_found"})
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            raw = base64.b64decode(auth[6:]).decode()
            cid, _, secret = raw.partition(":")
            cid = urllib.parse.unquote_plus(cid)
            secret = urllib.parse.unquote_plus(secret)
        if cid != p.client_id or secret != p.client_secret:
            return self.reply(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return self.reply(400, {"error": "unsupported_grant_type"})
        with p.lock:
            entry = p.codes.pop(form.get("code", ""), None)
        if (entry is None or entry[2] < time.time()
                or entry[1] != form.get("redirect_uri")):
            return self.reply(400, {"error": "invalid_grant"})
        sub = "bench-user-1"
        at = secrets.token_urlsafe(32)
        with p.lock:
            p.tokens[at] = sub
        return self.reply(200, {"access_token": at, "token_type": "Bearer",
                                "expires_in": 3600,
                                "id_token": p.id_token(sub, entry[0])})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--client-id", default="bench-client")
    ap.add_argument("--client-secret", default="bench-secret")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    issuer = "http://127.0.0.1:%d" % a.port
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.provider = Provider(issuer, a.client_id, a.client_secret)
    srv.verbose = a.verbose
    srv.serve_forever()


if __name__ == "__main__":
    main()

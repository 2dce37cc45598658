// The separate auth service of the nginx auth_request peer (the pattern of
// oauth2-proxy and vouch-proxy): nginx asks it about every request with a
// subrequest, and it validates the session cookie.
//
// The cookie is what vouch-proxy keeps: a signed, self-contained session,
//   bench_sess=<base64url(JSON {"sub","tok","exp"})>.<base64url(HMAC-SHA256)>
// The service checks the signature, the expiry and the fields, then answers
// 200 with X-Auth-User and X-Auth-Token (the upstream access token, which the
// front nginx injects as Authorization), else 401.  The key comes from
// $bench_secret (set in the service's configuration).
//
// Runs in nginx's njs (Debian package libnginx-mod-http-js).

import crypto from 'crypto';

function deny(r) {
    r.return(401);
}

function validate(r) {
    var c = r.headersIn.Cookie;
    if (!c) {
        return deny(r);
    }

    var m = c.match(/(?:^|;\s*)bench_sess=([A-Za-z0-9_\-]+)\.([A-Za-z0-9_\-]+)/);
    if (!m) {
        return deny(r);
    }

    var want = crypto.createHmac('sha256', r.variables.bench_secret)
                     .update(m[1]).digest('base64url');
    if (want.length !== m[2].length || want !== m[2]) {
        return deny(r);
    }

    var s;
    try {
        s = JSON.parse(Buffer.from(m[1], 'base64url').toString());
    } catch (e) {
        return deny(r);
    }

    if (typeof s.sub !== 'string' || typeof s.tok !== 'string'
        || typeof s.exp !== 'number' || s.exp * 1000 <= Date.now())
    {
        return deny(r);
    }

    r.headersOut['X-Auth-User'] = s.sub;
    r.headersOut['X-Auth-Token'] = s.tok;
    r.return(200);
}

export default {validate};

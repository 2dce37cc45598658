
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests of ngx_http_coze_auth_codec.c.
 */


#include "tap.h"

#include "ngx_http_coze_auth_codec.h"
#include "ngx_http_coze_auth_crypto.h"


static void test_session(void);
static void test_session_edges(void);
static void test_state(void);
static void test_cross_type(void);
static void test_sealed(void);
static int str_eq(const ngx_http_coze_auth_str_t *a,
    const ngx_http_coze_auth_str_t *b);
static void make_session(ngx_http_coze_auth_session_t *s);
static void make_state(ngx_http_coze_auth_state_t *st);
static int session_eq(const ngx_http_coze_auth_session_t *a,
    const ngx_http_coze_auth_session_t *b);


int
main(void)
{
    test_session();
    test_session_edges();
    test_state();
    test_cross_type();
    test_sealed();

    return done_testing();
}


static int
str_eq(const ngx_http_coze_auth_str_t *a, const ngx_http_coze_auth_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


static void
make_session(ngx_http_coze_auth_session_t *s)
{
    memset(s, 0, sizeof(*s));

    s->created = 1700000000;
    s->last_seen = 1700000123;
    s->expires = 1700000900;
    s->refresh_expires = 0;
    ngx_http_coze_auth_str_set(&s->access_token, "czu_access.token.value");
    ngx_http_coze_auth_str_set(&s->refresh_token, "czr_refresh");
    ngx_http_coze_auth_str_set(&s->user_id, "7412345678901234567");
    ngx_http_coze_auth_str_set(&s->user_name, "alice");
    ngx_http_coze_auth_str_set(&s->nick_name, "\xe7\x88\xb1\xe4\xb8\xbd\xe4"
                                              "\xb8\x9d");
    ngx_http_coze_auth_str_set(&s->avatar_url,
                               "https://p.example/a.png?x=1&y=\"2\"");
}


static void
make_state(ngx_http_coze_auth_state_t *st)
{
    memset(st, 0, sizeof(*st));

    st->created = 1700000000;
    ngx_http_coze_auth_str_set(&st->state, "s7a6d5f4g3h2j1k0");
    ngx_http_coze_auth_str_set(&st->verifier,
                               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    ngx_http_coze_auth_str_set(&st->return_to, "/app/page?x=1");
    ngx_http_coze_auth_str_set(&st->redirect_uri,
                               "https://site.example/oauth/callback");
}


static int
session_eq(const ngx_http_coze_auth_session_t *a,
    const ngx_http_coze_auth_session_t *b)
{
    return a->created == b->created
           && a->last_seen == b->last_seen
           && a->expires == b->expires
           && a->refresh_expires == b->refresh_expires
           && str_eq(&a->access_token, &b->access_token)
           && str_eq(&a->refresh_token, &b->refresh_token)
           && str_eq(&a->user_id, &b->user_id)
           && str_eq(&a->user_name, &b->user_name)
           && str_eq(&a->nick_name, &b->nick_name)
           && str_eq(&a->avatar_url, &b->avatar_url);
}


static void
test_session(void)
{
    int                           rc, good;
    size_t                        n, len, k;
    unsigned char                 buf[1024], big[1100];
    ngx_http_coze_auth_session_t  s, d;

    make_session(&s);

    len = ngx_http_coze_auth_session_encoded_len(&s);
    n = ngx_http_coze_auth_session_encode(&s, buf);
    ok(n == len && n > 0, "session encode length %zu", n);
    is_int(buf[0], NGX_HTTP_COZE_AUTH_SESSION_V1, "session type byte");
    ok(memcmp(buf + 1, "\x00\x00\x00\x00\x65\x53\xf1\x00", 8) == 0,
       "int64 big-endian");

    memset(&d, 0, sizeof(d));
    rc = ngx_http_coze_auth_session_decode(&d, buf, n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && session_eq(&s, &d),
       "session round trip");
    ok(d.access_token.data > buf && d.avatar_url.data < buf + n,
       "decoded strings point into the input");

    /* every truncation and a trailing byte */

    good = 1;

    for (k = 0; k < n; k++) {
        if (ngx_http_coze_auth_session_decode(&d, buf, k)
            != NGX_HTTP_COZE_AUTH_E_FORMAT)
        {
            good = 0;
        }
    }

    ok(good, "every truncated session rejected");

    buf[n] = 0;
    is_int(ngx_http_coze_auth_session_decode(&d, buf, n + 1),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "trailing byte rejected");

    /* versions */

    good = 1;

    for (k = 0; k < 256; k++) {
        buf[0] = (unsigned char) k;
        rc = ngx_http_coze_auth_session_decode(&d, buf, n);

        if ((rc == NGX_HTTP_COZE_AUTH_OK)
            != (k == NGX_HTTP_COZE_AUTH_SESSION_V1))
        {
            good = 0;
        }
    }

    ok(good, "only the session v1 type byte accepted");
    buf[0] = NGX_HTTP_COZE_AUTH_SESSION_V1;

    /* a string length pointing past the end, then one byte short */

    buf[1 + 32] = 0xff;
    is_int(ngx_http_coze_auth_session_decode(&d, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "overlong string length rejected");
    buf[1 + 32] = 0x00;

    buf[1 + 33] = (unsigned char) (s.access_token.len + 1);
    is_int(ngx_http_coze_auth_session_decode(&d, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "string length + 1 rejected");
    buf[1 + 33] = (unsigned char) (s.access_token.len - 1);
    is_int(ngx_http_coze_auth_session_decode(&d, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "string length - 1 rejected");
    buf[1 + 33] = (unsigned char) s.access_token.len;
    ok(ngx_http_coze_auth_session_decode(&d, buf, n) == NGX_HTTP_COZE_AUTH_OK,
       "restored buffer decodes again");

    /* a failed decode leaves the struct alone */

    memset(&d, 0x5a, sizeof(d));
    ngx_http_coze_auth_session_decode(&d, buf, n - 1);
    memset(big, 0x5a, sizeof(d));
    ok(memcmp(&d, big, sizeof(d)) == 0, "struct untouched on failure");

    is_int(ngx_http_coze_auth_session_decode(&d, NULL, 0),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "NULL input rejected");
}


static void
test_session_edges(void)
{
    int                           rc;
    size_t                        n;
    unsigned char                *buf, *longstr;
    tap_block_t                  *arena;
    ngx_http_coze_auth_session_t  s, d;

    arena = NULL;
    longstr = tap_alloc(&arena, 0x10000);
    buf = tap_alloc(&arena, 0x10000 + 200);

    if (longstr == NULL || buf == NULL) {
        ok(0, "allocate");
        tap_free_all(&arena);
        return;
    }

    memset(longstr, 'L', 0x10000);

    /* empty strings, extreme integers */

    memset(&s, 0, sizeof(s));
    s.created = INT64_MIN;
    s.last_seen = INT64_MAX;
    s.expires = -1;
    s.refresh_expires = 1;

    n = ngx_http_coze_auth_session_encode(&s, buf);
    is_int(n, 1 + 4 * 8 + 6 * 2, "all-empty session length");
    rc = ngx_http_coze_auth_session_decode(&d, buf, n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && session_eq(&s, &d)
       && d.created == INT64_MIN && d.last_seen == INT64_MAX
       && d.expires == -1, "extreme integers round trip");

    /* the longest string fits, one more does not */

    make_session(&s);
    s.avatar_url.data = longstr;
    s.avatar_url.len = 0xffff;

    n = ngx_http_coze_auth_session_encode(&s, buf);
    ok(n == ngx_http_coze_auth_session_encoded_len(&s) && n > 0xffff,
       "65535-byte string encodes");
    rc = ngx_http_coze_auth_session_decode(&d, buf, n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && session_eq(&s, &d),
       "65535-byte string round trip");

    s.avatar_url.len = 0x10000;
    is_int(ngx_http_coze_auth_session_encoded_len(&s), 0,
           "65536-byte string: encoded_len 0");
    buf[0] = 0;
    is_int(ngx_http_coze_auth_session_encode(&s, buf), 0,
           "65536-byte string: encode refuses");
    is_int(buf[0], 0, "nothing written");

    tap_free_all(&arena);
}


static void
test_state(void)
{
    int                         rc, good;
    size_t                      n, k;
    unsigned char               buf[512];
    ngx_http_coze_auth_state_t  st, d;

    make_state(&st);

    n = ngx_http_coze_auth_state_encode(&st, buf);
    ok(n == ngx_http_coze_auth_state_encoded_len(&st) && n > 0,
       "state encode length %zu", n);
    is_int(buf[0], NGX_HTTP_COZE_AUTH_STATE_V1, "state type byte");

    rc = ngx_http_coze_auth_state_decode(&d, buf, n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && d.created == st.created
       && str_eq(&d.state, &st.state) && str_eq(&d.verifier, &st.verifier)
       && str_eq(&d.return_to, &st.return_to)
       && str_eq(&d.redirect_uri, &st.redirect_uri), "state round trip");

    good = 1;

    for (k = 0; k < n; k++) {
        if (ngx_http_coze_auth_state_decode(&d, buf, k)
            != NGX_HTTP_COZE_AUTH_E_FORMAT)
        {
            good = 0;
        }
    }

    ok(good, "every truncated state rejected");

    buf[n] = 'x';
    is_int(ngx_http_coze_auth_state_decode(&d, buf, n + 1),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "state with a trailing byte");

    buf[0] = NGX_HTTP_COZE_AUTH_STATE_V1 + 1;
    is_int(ngx_http_coze_auth_state_decode(&d, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "state v2 rejected");
    buf[0] = NGX_HTTP_COZE_AUTH_STATE_V1;

    /* empty verifier (web apps have none) */

    st.verifier.len = 0;
    st.verifier.data = NULL;
    n = ngx_http_coze_auth_state_encode(&st, buf);
    rc = ngx_http_coze_auth_state_decode(&d, buf, n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && d.verifier.len == 0
       && str_eq(&d.return_to, &st.return_to), "state without verifier");
}


static void
test_cross_type(void)
{
    size_t                        n;
    unsigned char                 buf[1024];
    ngx_http_coze_auth_state_t    st;
    ngx_http_coze_auth_session_t  s;

    make_session(&s);
    n = ngx_http_coze_auth_session_encode(&s, buf);
    is_int(ngx_http_coze_auth_state_decode(&st, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "a session never parses as a state");

    make_state(&st);
    n = ngx_http_coze_auth_state_encode(&st, buf);
    is_int(ngx_http_coze_auth_session_decode(&s, buf, n),
           NGX_HTTP_COZE_AUTH_E_FORMAT, "a state never parses as a session");
}


static void
test_sealed(void)
{
    int                           rc;
    size_t                        n, c, m;
    unsigned char                 raw[32], bin[512], text[1024], pt[1024];
    ngx_http_coze_auth_key_t      key;
    ngx_http_coze_auth_session_t  s, d;

    /* the whole path: encode, seal as a cookie, open, decode */

    memset(raw, 0x42, sizeof(raw));
    ngx_http_coze_auth_key_init(&key, raw, sizeof(raw));

    make_session(&s);
    n = ngx_http_coze_auth_session_encode(&s, bin);

    rc = ngx_http_coze_auth_cookie_seal(&key,
                                        (const unsigned char *) "s|session",
                                        9, bin, n, text, &c);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "session sealed into %zu characters", c);

    rc = ngx_http_coze_auth_cookie_open(&key, 1,
                                        (const unsigned char *) "s|session",
                                        9, text, c, pt, &m, NULL);
    ok(rc == NGX_HTTP_COZE_AUTH_OK
       && ngx_http_coze_auth_session_decode(&d, pt, m)
          == NGX_HTTP_COZE_AUTH_OK
       && session_eq(&s, &d), "session cookie opens and decodes");
}

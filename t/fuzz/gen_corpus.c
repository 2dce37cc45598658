
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Writes the seed corpora of the fuzz targets (valid sealed cookies need
 * the fixed fuzz key, key[i] = i, and a fresh nonce, so they are
 * generated rather than typed).  Run from the repository root:
 *
 *   cc -I ngx_http_coze_auth_module t/fuzz/gen_corpus.c \
 *       ngx_http_coze_auth_module/ngx_http_coze_auth_{util,crypto,codec}.c \
 *       -lcrypto -o /tmp/gen_corpus && /tmp/gen_corpus t/fuzz/corpus
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_coze_auth_codec.h"
#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_util.h"


#define GEN_SESSION_AD  "coze_session|session"
#define GEN_STATE_AD    "coze_state_0|state"


int main(int argc, char **argv);
static int gen_write(const char *dir, const char *target, const char *name,
    const unsigned char *p, size_t len);
static int gen_session(const char *dir, ngx_http_coze_auth_key_t *key);
static int gen_state(const char *dir, ngx_http_coze_auth_key_t *key);
static int gen_paths(const char *dir);


int
main(int argc, char **argv)
{
    size_t                    i;
    unsigned char             raw[NGX_HTTP_COZE_AUTH_KEY_LEN];
    ngx_http_coze_auth_key_t  key;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus t/fuzz/corpus\n");
        return 2;
    }

    for (i = 0; i < sizeof(raw); i++) {
        raw[i] = (unsigned char) i;
    }

    if (ngx_http_coze_auth_key_init(&key, raw, sizeof(raw))
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return 1;
    }

    if (gen_session(argv[1], &key) != 0
        || gen_state(argv[1], &key) != 0
        || gen_paths(argv[1]) != 0)
    {
        return 1;
    }

    return 0;
}


static int
gen_write(const char *dir, const char *target, const char *name,
    const unsigned char *p, size_t len)
{
    FILE  *f;
    char   path[1024];

    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);

    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    if (len && fwrite(p, 1, len, f) != len) {
        fclose(f);
        return -1;
    }

    return fclose(f) == 0 ? 0 : -1;
}


static int
gen_session(const char *dir, ngx_http_coze_auth_key_t *key)
{
    size_t                        n, c;
    unsigned char                 bin[1024], text[2048];
    ngx_http_coze_auth_session_t  s;

    memset(&s, 0, sizeof(s));
    s.created = 1700000000;
    s.last_seen = 1700000100;
    s.expires = 1700000900;
    s.refresh_expires = 1702592000;
    ngx_http_coze_auth_str_set(&s.access_token, "czu_AbCdEf0123456789");
    ngx_http_coze_auth_str_set(&s.refresh_token, "czr_ZyXwVu9876543210");
    ngx_http_coze_auth_str_set(&s.user_id, "7400000000000000001");
    ngx_http_coze_auth_str_set(&s.user_name, "alice");
    ngx_http_coze_auth_str_set(&s.nick_name, "Alice");
    ngx_http_coze_auth_str_set(&s.avatar_url, "https://p.example/a.png");

    n = ngx_http_coze_auth_session_encode(&s, bin);

    if (gen_write(dir, "cookie_open", "plain_session", bin, n) != 0
        || ngx_http_coze_auth_cookie_seal(key,
                                  (const unsigned char *) GEN_SESSION_AD,
                                  sizeof(GEN_SESSION_AD) - 1, bin, n, text,
                                  &c)
           != NGX_HTTP_COZE_AUTH_OK
        || gen_write(dir, "cookie_open", "sealed_session", text, c) != 0)
    {
        return -1;
    }

    memset(&s, 0, sizeof(s));
    n = ngx_http_coze_auth_session_encode(&s, bin);

    if (gen_write(dir, "cookie_open", "plain_empty_session", bin, n) != 0
        || ngx_http_coze_auth_cookie_seal(key,
                                  (const unsigned char *) GEN_SESSION_AD,
                                  sizeof(GEN_SESSION_AD) - 1, bin, n, text,
                                  &c)
           != NGX_HTTP_COZE_AUTH_OK
        || gen_write(dir, "cookie_open", "sealed_empty_session", text, c)
           != 0
        || ngx_http_coze_auth_seal(key,
                                  (const unsigned char *) GEN_SESSION_AD,
                                  sizeof(GEN_SESSION_AD) - 1, bin, n, text,
                                  &c)
           != NGX_HTTP_COZE_AUTH_OK
        || gen_write(dir, "cookie_open", "binary_empty_session", text, c)
           != 0
        || gen_write(dir, "cookie_open", "garbage",
                     (const unsigned char *) "AQID-_==", 8) != 0)
    {
        return -1;
    }

    return 0;
}


static int
gen_state(const char *dir, ngx_http_coze_auth_key_t *key)
{
    size_t                      n, c;
    unsigned char               bin[1024], text[2048];
    ngx_http_coze_auth_state_t  st;

    memset(&st, 0, sizeof(st));
    st.created = 1700000000;
    ngx_http_coze_auth_str_set(&st.state, "Zq3r8fYt0aWbXc1dVe2f");
    ngx_http_coze_auth_str_set(&st.verifier,
                               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    ngx_http_coze_auth_str_set(&st.return_to, "/app/page?x=1#top");
    ngx_http_coze_auth_str_set(&st.redirect_uri,
                               "https://site.example/oauth/callback");

    n = ngx_http_coze_auth_state_encode(&st, bin);

    if (gen_write(dir, "state_cookie", "plain_state", bin, n) != 0
        || ngx_http_coze_auth_cookie_seal(key,
                                  (const unsigned char *) GEN_STATE_AD,
                                  sizeof(GEN_STATE_AD) - 1, bin, n, text,
                                  &c)
           != NGX_HTTP_COZE_AUTH_OK
        || gen_write(dir, "state_cookie", "sealed_state", text, c) != 0
        || ngx_http_coze_auth_seal(key,
                                  (const unsigned char *) GEN_STATE_AD,
                                  sizeof(GEN_STATE_AD) - 1, bin, n, text,
                                  &c)
           != NGX_HTTP_COZE_AUTH_OK
        || gen_write(dir, "state_cookie", "binary_state", text, c) != 0)
    {
        return -1;
    }

    st.verifier.len = 0;
    ngx_http_coze_auth_str_set(&st.return_to, "//evil.example/");

    n = ngx_http_coze_auth_state_encode(&st, bin);

    return gen_write(dir, "state_cookie", "plain_state_bad_return", bin, n);
}


static int
gen_paths(const char *dir)
{
    size_t  i;
    char    name[32];

    static const char  *seeds[] = {
        "/",
        "/app/page?x=1&y=2#frag",
        "/search?q=a%20b&code=abc&state=xyz",
        "/%E4%B8%AD/./a/../b",
        "//example.com",
        "/%2f%2fexample.com",
        "/%252f%252fexample.com",
        "/\\example.com",
        "/%09/example.com",
        "/https://example.com",
        ("/\xe3\x80\xb1" "example.com"),
        "javascript:alert(1)",
        "code=abc&state=s%2Bt&error&a=%zz",
        "Zm9vYmFy",
    };

    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        snprintf(name, sizeof(name), "seed_%02zu", i);

        if (gen_write(dir, "return_path", name,
                      (const unsigned char *) seeds[i], strlen(seeds[i]))
            != 0)
        {
            return -1;
        }
    }

    return 0;
}

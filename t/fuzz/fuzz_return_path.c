
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: return path validation, percent decoding, query
 * arguments and the escapers, with invariants:
 *
 *   - an accepted return path starts with one '/', is not "//" or "/\",
 *     has no control character, space or backslash, has only valid
 *     escapes, and its decoded form starts the same way and has no
 *     control character either;
 *   - url_unescape(url_escape(x)) == x, in place as well;
 *   - escapers return the same length with and without dst;
 *   - base64url decode(encode(x)) == x, and decode gives canonical text.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_coze_auth_util.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
static void fuzz_path(const unsigned char *p, size_t len);
static void fuzz_query(const unsigned char *p, size_t len);
static void fuzz_escape(const unsigned char *p, size_t len);
static void fuzz_b64(const unsigned char *p, size_t len);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_path(data, size);
    fuzz_query(data, size);
    fuzz_escape(data, size);
    fuzz_b64(data, size);

    return 0;
}


static void
fuzz_path(const unsigned char *p, size_t len)
{
    size_t          i, n;
    unsigned char  *buf;

    if (!ngx_http_coze_auth_return_path_valid(p, len)) {
        return;
    }

    if (len == 0 || len > NGX_HTTP_COZE_AUTH_RETURN_PATH_MAX || p[0] != '/') {
        abort();
    }

    if (len > 1 && (p[1] == '/' || p[1] == '\\')) {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] == 0x7f || p[i] == '\\') {
            abort();
        }
    }

    /* a strictly decoded valid path must never lead to another host */

    buf = malloc(len);
    if (buf == NULL) {
        return;
    }

    if (ngx_http_coze_auth_url_unescape(buf, &n, p, len, 0)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        /* the raw form of an accepted path has only valid escapes */
        abort();
    }

    if (n == 0 || buf[0] != '/'
        || (n > 1 && (buf[1] == '/' || buf[1] == '\\')))
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (buf[i] < 0x20 || buf[i] == 0x7f) {
            abort();
        }
    }

    free(buf);
}


static void
fuzz_query(const unsigned char *p, size_t len)
{
    size_t                    i, n;
    unsigned char            *buf;
    ngx_http_coze_auth_str_t  v;

    static const char  *names[] = { "code", "state", "error", "a" };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {

        if (ngx_http_coze_auth_query_arg(p, len, names[i], &v)
            != NGX_HTTP_COZE_AUTH_OK)
        {
            continue;
        }

        if (v.data < p || v.data + v.len > p + len) {
            abort();
        }

        buf = malloc(v.len + 1);
        if (buf == NULL) {
            return;
        }

        (void) ngx_http_coze_auth_url_unescape(buf, &n, v.data, v.len, 1);

        free(buf);
    }
}


static void
fuzz_escape(const unsigned char *p, size_t len)
{
    size_t          n, m, k;
    unsigned char  *enc, *dec;

    n = ngx_http_coze_auth_url_escape(NULL, p, len);
    enc = malloc(n + 1);
    dec = malloc(len + 1);

    if (enc == NULL || dec == NULL) {
        free(enc);
        free(dec);
        return;
    }

    if (ngx_http_coze_auth_url_escape(enc, p, len) != n) {
        abort();
    }

    if (ngx_http_coze_auth_url_unescape(dec, &m, enc, n, 0)
        != NGX_HTTP_COZE_AUTH_OK
        || m != len || (len && memcmp(dec, p, len) != 0))
    {
        abort();
    }

    if (ngx_http_coze_auth_url_unescape(enc, &k, enc, n, 1)
        != NGX_HTTP_COZE_AUTH_OK
        || k != len || (len && memcmp(enc, p, len) != 0))
    {
        abort();
    }

    /* raw input: either error or no longer than the input */

    if (ngx_http_coze_auth_url_unescape(dec, &m, p, len, 1)
        == NGX_HTTP_COZE_AUTH_OK && m > len)
    {
        abort();
    }

    free(enc);
    free(dec);

    n = ngx_http_coze_auth_html_escape(NULL, p, len);
    enc = malloc(n + 1);
    if (enc == NULL) {
        return;
    }

    if (ngx_http_coze_auth_html_escape(enc, p, len) != n
        || memchr(enc, '<', n) != NULL || memchr(enc, '"', n) != NULL)
    {
        abort();
    }

    free(enc);

    n = ngx_http_coze_auth_json_escape(NULL, p, len);
    enc = malloc(n + 1);
    if (enc == NULL) {
        return;
    }

    if (ngx_http_coze_auth_json_escape(enc, p, len) != n) {
        abort();
    }

    for (k = 0; k < n; k++) {
        if (enc[k] < 0x20 || enc[k] == 0x7f) {
            abort();
        }

        if (enc[k] == '\\') {
            k++;        /* the escaped character */
        } else if (enc[k] == '"') {
            abort();
        }
    }

    free(enc);
}


static void
fuzz_b64(const unsigned char *p, size_t len)
{
    size_t          n, m;
    unsigned char  *enc, *dec;

    enc = malloc(ngx_http_coze_auth_b64url_len(len) + 1);
    dec = malloc(len + 1);

    if (enc == NULL || dec == NULL) {
        free(enc);
        free(dec);
        return;
    }

    n = ngx_http_coze_auth_b64url_encode(enc, p, len);

    if (n != ngx_http_coze_auth_b64url_len(len)
        || ngx_http_coze_auth_b64url_decode(dec, &m, enc, n)
           != NGX_HTTP_COZE_AUTH_OK
        || m != len || (len && memcmp(dec, p, len) != 0))
    {
        abort();
    }

    free(enc);

    /* the input as base64url text: accepted text is canonical */

    if (ngx_http_coze_auth_b64url_decode(dec, &m, p, len)
        == NGX_HTTP_COZE_AUTH_OK)
    {
        enc = malloc(ngx_http_coze_auth_b64url_len(m) + 1);
        if (enc == NULL) {
            free(dec);
            return;
        }

        n = ngx_http_coze_auth_b64url_encode(enc, dec, m);

        /* equal up to the '=' padding that decode tolerates */

        if (n > len || memcmp(enc, p, n) != 0) {
            abort();
        }

        while (n < len) {
            if (p[n++] != '=') {
                abort();
            }
        }

        free(enc);
    }

    free(dec);
}

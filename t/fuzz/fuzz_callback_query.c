
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: the query string of the OAuth callback, as Coze's
 * redirect (or anyone else) sends it:
 *
 *   GET /oauth/callback?code=..&state=..&error=..&error_description=..
 *       &return_to=..
 *
 * Every argument is processed the way the callback handler does it:
 * found with query_arg(), percent-decoded ('+' is a space) into a buffer
 * of the raw length + 1, then handed to what consumes it: the code to the
 * token request body, return_to to the return path check, error and
 * error_description to the HTML and JSON escapers.  Checked properties:
 *
 *   - a found value lies inside the query, holds no '&' and follows
 *     "name=" (or is the empty value of a bare "name");
 *   - decoding never grows the value; in place and out of place give the
 *     same result; decode(escape(x)) == x;
 *   - the token request is built for every valid UTF-8 code, refused for
 *     any other, and parses back (jansson) to the same code;
 *   - an accepted return_to starts with one '/' (not "//" or "/\");
 *   - the escapers agree with their length-only mode and leave no
 *     markup or control character.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -I ngx_http_coze_auth_module t/fuzz/fuzz_callback_query.c \
 *     ngx_http_coze_auth_module/ngx_http_coze_auth_{util,proto}.c \
 *     -ljansson -lcrypto -o /tmp/fuzz_callback_query
 * /tmp/fuzz_callback_query -max_total_time=20 t/fuzz/corpus/callback_query
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_util.h"


typedef struct fuzz_block_s  fuzz_block_t;

struct fuzz_block_s {
    fuzz_block_t  *next;
    uint64_t       align;
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *pool, size_t size);
static void fuzz_free_all(fuzz_block_t **head);
static int fuzz_arg(const uint8_t *q, size_t len, const char *name,
    ngx_http_coze_auth_str_t *value);
static int fuzz_utf8_valid(const unsigned char *p, size_t len);
static void fuzz_code(const ngx_http_coze_auth_str_t *code, int pkce);
static void fuzz_return_to(const ngx_http_coze_auth_str_t *path);
static void fuzz_text(const ngx_http_coze_auth_str_t *text);


static void *
fuzz_alloc(void *pool, size_t size)
{
    fuzz_block_t  **head = pool;
    fuzz_block_t   *b;

    b = malloc(sizeof(fuzz_block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->next = *head;
    *head = b;

    return b + 1;
}


static void
fuzz_free_all(fuzz_block_t **head)
{
    fuzz_block_t  *b;

    while (*head) {
        b = *head;
        *head = b->next;
        free(b);
    }
}


/*
 * As ngx_http_coze_auth_arg() in the callback handler: 1 and a decoded,
 * malloc()ed value (the caller frees value->data), 0 if absent or
 * malformed.
 */

static int
fuzz_arg(const uint8_t *q, size_t len, const char *name,
    ngx_http_coze_auth_str_t *value)
{
    size_t                    n, m, e, nlen;
    unsigned char            *buf, *copy, *enc, *dec;
    ngx_http_coze_auth_str_t  raw;

    value->len = 0;
    value->data = NULL;

    if (ngx_http_coze_auth_query_arg(q, len, name, &raw)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return 0;
    }

    nlen = strlen(name);

    if (raw.data < q || raw.data > q + len || raw.len > len
        || raw.data + raw.len > q + len
        || (raw.len && memchr(raw.data, '&', raw.len) != NULL))
    {
        abort();
    }

    if (raw.len) {
        if ((size_t) (raw.data - q) < nlen + 1 || raw.data[-1] != '='
            || memcmp(raw.data - 1 - nlen, name, nlen) != 0)
        {
            abort();
        }
    }

    /* exactly the handler's buffer: raw.len + 1 bytes */

    buf = malloc(raw.len + 1);
    copy = malloc(raw.len + 1);
    if (buf == NULL || copy == NULL) {
        free(buf);
        free(copy);
        return 0;
    }

    n = raw.len;

    if (ngx_http_coze_auth_url_unescape(buf, &n, raw.data, raw.len, 1)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        /* in place must fail the same way */

        memcpy(copy, raw.data, raw.len);
        m = raw.len;

        if (ngx_http_coze_auth_url_unescape(copy, &m, copy, raw.len, 1)
            == NGX_HTTP_COZE_AUTH_OK)
        {
            abort();
        }

        free(buf);
        free(copy);
        return 0;
    }

    if (n > raw.len) {
        abort();
    }

    memcpy(copy, raw.data, raw.len);
    m = raw.len;

    if (ngx_http_coze_auth_url_unescape(copy, &m, copy, raw.len, 1)
        != NGX_HTTP_COZE_AUTH_OK
        || m != n || (n && memcmp(copy, buf, n) != 0))
    {
        abort();
    }

    free(copy);

    /* decode(escape(x)) == x */

    e = ngx_http_coze_auth_url_escape(NULL, buf, n);
    enc = malloc(e + 1);
    dec = malloc(e + 1);

    if (enc != NULL && dec != NULL) {
        if (ngx_http_coze_auth_url_escape(enc, buf, n) != e) {
            abort();
        }

        m = e;

        if (ngx_http_coze_auth_url_unescape(dec, &m, enc, e, 1)
            != NGX_HTTP_COZE_AUTH_OK
            || m != n || (n && memcmp(dec, buf, n) != 0))
        {
            abort();
        }
    }

    free(enc);
    free(dec);

    value->len = n;
    value->data = buf;

    return 1;
}


/* strict UTF-8 (no overlong forms, surrogates or code points > 10FFFF) */

static int
fuzz_utf8_valid(const unsigned char *p, size_t len)
{
    size_t    i, k, n;
    uint32_t  c, min;

    for (i = 0; i < len; i += n) {
        c = p[i];

        if (c < 0x80) {
            n = 1;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            c &= 0x1f;
            min = 0x80;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            c &= 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            c &= 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_code(const ngx_http_coze_auth_str_t *code, int pkce)
{
    int                        rc;
    json_t                    *root, *v;
    fuzz_block_t              *arena;
    json_error_t               err;
    ngx_http_coze_auth_str_t   client_id, redirect_uri, verifier, out;
    ngx_http_coze_auth_mem_t   mem;

    ngx_http_coze_auth_str_set(&client_id,
                               "92769033034183945191209058691557.app.coze");
    ngx_http_coze_auth_str_set(&redirect_uri,
                               "https://example.com/oauth/callback");
    ngx_http_coze_auth_str_set(&verifier,
                               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");

    arena = NULL;
    mem.alloc = fuzz_alloc;
    mem.pool = &arena;

    rc = ngx_http_coze_auth_code_request(&mem, &client_id, &redirect_uri,
                                         code, pkce ? &verifier : NULL,
                                         &out);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        if (rc != NGX_HTTP_COZE_AUTH_ERROR
            || fuzz_utf8_valid(code->data, code->len))
        {
            abort();
        }

        fuzz_free_all(&arena);
        return;
    }

    if (!fuzz_utf8_valid(code->data, code->len)
        || out.data == NULL || out.data[out.len] != '\0')
    {
        abort();
    }

    root = json_loadb((const char *) out.data, out.len, JSON_ALLOW_NUL,
                      &err);
    if (root == NULL || !json_is_object(root)) {
        abort();
    }

    v = json_object_get(root, "code");

    if (v == NULL || !json_is_string(v)
        || json_string_length(v) != code->len
        || (code->len
            && memcmp(json_string_value(v), code->data, code->len) != 0))
    {
        abort();
    }

    v = json_object_get(root, "code_verifier");

    if ((v != NULL) != (pkce != 0)) {
        abort();
    }

    json_decref(root);
    fuzz_free_all(&arena);
}


static void
fuzz_return_to(const ngx_http_coze_auth_str_t *path)
{
    size_t  i;

    if (!ngx_http_coze_auth_return_path_valid(path->data, path->len)) {
        return;
    }

    if (path->len == 0 || path->data[0] != '/'
        || (path->len > 1
            && (path->data[1] == '/' || path->data[1] == '\\')))
    {
        abort();
    }

    for (i = 0; i < path->len; i++) {
        if (path->data[i] < 0x20 || path->data[i] == 0x7f) {
            abort();
        }
    }
}


/* error and error_description: what a page or a JSON answer may echo */

static void
fuzz_text(const ngx_http_coze_auth_str_t *text)
{
    size_t          n, i;
    unsigned char  *buf;

    n = ngx_http_coze_auth_html_escape(NULL, text->data, text->len);
    buf = malloc(n + 1);
    if (buf == NULL) {
        return;
    }

    if (ngx_http_coze_auth_html_escape(buf, text->data, text->len) != n
        || n < text->len)
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (buf[i] == '<' || buf[i] == '>' || buf[i] == '"'
            || buf[i] == '\'')
        {
            abort();
        }
    }

    free(buf);

    n = ngx_http_coze_auth_json_escape(NULL, text->data, text->len);
    buf = malloc(n + 1);
    if (buf == NULL) {
        return;
    }

    if (ngx_http_coze_auth_json_escape(buf, text->data, text->len) != n
        || n < text->len)
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (buf[i] < 0x20) {
            abort();
        }

        if (buf[i] == '"' && (i == 0 || buf[i - 1] != '\\')) {
            abort();
        }
    }

    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_http_coze_auth_str_t  code, state, error, desc, ret;

    /* the handler reads these in this order */

    if (fuzz_arg(data, size, "code", &code)) {
        fuzz_code(&code, size & 1);
    }

    (void) fuzz_arg(data, size, "state", &state);

    if (fuzz_arg(data, size, "error", &error)) {
        fuzz_text(&error);
    }

    if (fuzz_arg(data, size, "error_description", &desc)) {
        fuzz_text(&desc);
    }

    if (fuzz_arg(data, size, "return_to", &ret)) {
        fuzz_return_to(&ret);
    }

    free(code.data);
    free(state.data);
    free(error.data);
    free(desc.data);
    free(ret.data);

    return 0;
}

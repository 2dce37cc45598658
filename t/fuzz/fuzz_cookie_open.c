
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: a session cookie value as a client sends it.
 *
 * The input is tried as cookie text (base64url, sealed with the fixed
 * fuzz key: key[i] = i), as a binary sealed blob and as a plain session
 * payload, so the codec is reached without forging GCM tags.  Checked
 * properties: no crash, decoded payloads re-encode to the same bytes,
 * seal/open round trips.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_coze_auth_codec.h"
#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_util.h"


#define FUZZ_AD  "coze_session|session"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
static void fuzz_session(const unsigned char *p, size_t len);


static ngx_http_coze_auth_key_t  fuzz_keys[2];
static int                       fuzz_init;


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int             rc;
    size_t          i, n, m, idx;
    unsigned char   raw[NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char  *pt, *text;

    if (!fuzz_init) {
        for (i = 0; i < sizeof(raw); i++) {
            raw[i] = (unsigned char) i;
        }

        ngx_http_coze_auth_key_init(&fuzz_keys[1], raw, sizeof(raw));

        /* an older key first: rotation lookup is exercised */

        raw[0] = 0xff;
        ngx_http_coze_auth_key_init(&fuzz_keys[0], raw, sizeof(raw));

        fuzz_init = 1;
    }

    pt = malloc(size + 1);
    if (pt == NULL) {
        return 0;
    }

    /* as cookie text */

    rc = ngx_http_coze_auth_cookie_open(fuzz_keys, 2,
                                        (const unsigned char *) FUZZ_AD,
                                        sizeof(FUZZ_AD) - 1, data, size, pt,
                                        &n, &idx);
    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        if (idx > 1 || n > size) {
            abort();
        }

        fuzz_session(pt, n);
    }

    /* as a binary blob */

    rc = ngx_http_coze_auth_open(fuzz_keys, 2,
                                 (const unsigned char *) FUZZ_AD,
                                 sizeof(FUZZ_AD) - 1, data, size, pt, &n,
                                 &idx);
    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        fuzz_session(pt, n);
    }

    /* as a plain payload */

    fuzz_session(data, size);

    /* seal and open again: must give the input back */

    if (size <= 2048) {
        text = malloc(ngx_http_coze_auth_cookie_sealed_len(size));

        if (text != NULL) {
            rc = ngx_http_coze_auth_cookie_seal(&fuzz_keys[1],
                                             (const unsigned char *) FUZZ_AD,
                                             sizeof(FUZZ_AD) - 1, data, size,
                                             text, &n);
            if (rc != NGX_HTTP_COZE_AUTH_OK
                || n != ngx_http_coze_auth_cookie_sealed_len(size))
            {
                abort();
            }

            free(pt);
            pt = malloc(n);
            if (pt == NULL) {
                free(text);
                return 0;
            }

            rc = ngx_http_coze_auth_cookie_open(fuzz_keys, 2,
                                             (const unsigned char *) FUZZ_AD,
                                             sizeof(FUZZ_AD) - 1, text, n,
                                             pt, &m, &idx);
            if (rc != NGX_HTTP_COZE_AUTH_OK || m != size || idx != 1
                || (size && memcmp(pt, data, size) != 0))
            {
                abort();
            }

            free(text);
        }
    }

    free(pt);

    return 0;
}


static void
fuzz_session(const unsigned char *p, size_t len)
{
    size_t                        n;
    unsigned char                *out;
    ngx_http_coze_auth_session_t  s;

    if (ngx_http_coze_auth_session_decode(&s, p, len)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return;
    }

    /* the format is canonical: decode then encode gives the same bytes */

    n = ngx_http_coze_auth_session_encoded_len(&s);
    if (n != len) {
        abort();
    }

    out = malloc(n);
    if (out == NULL) {
        return;
    }

    if (ngx_http_coze_auth_session_encode(&s, out) != n
        || memcmp(out, p, n) != 0)
    {
        abort();
    }

    free(out);
}

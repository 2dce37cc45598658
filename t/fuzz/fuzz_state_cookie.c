
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: a login state cookie as a client sends it back to
 * the callback.
 *
 * The input is decoded as a state payload directly and opened as cookie
 * text and as a binary blob with the fixed fuzz key (key[i] = i).
 * Checked properties: no crash, decoded states re-encode to the same
 * bytes, a state payload never decodes as a session, and a blob sealed
 * for the session cookie never opens as a state cookie.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_coze_auth_codec.h"
#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_util.h"


#define FUZZ_AD          "coze_state_0|state"
#define FUZZ_SESSION_AD  "coze_session|session"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
static void fuzz_state(const unsigned char *p, size_t len);


static ngx_http_coze_auth_key_t  fuzz_key;
static int                       fuzz_init;


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int             rc;
    size_t          i, n, m;
    unsigned char   raw[NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char  *pt, *blob;

    if (!fuzz_init) {
        for (i = 0; i < sizeof(raw); i++) {
            raw[i] = (unsigned char) i;
        }

        ngx_http_coze_auth_key_init(&fuzz_key, raw, sizeof(raw));
        fuzz_init = 1;
    }

    fuzz_state(data, size);

    pt = malloc(size + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD + 1);
    if (pt == NULL) {
        return 0;
    }

    rc = ngx_http_coze_auth_cookie_open(&fuzz_key, 1,
                                        (const unsigned char *) FUZZ_AD,
                                        sizeof(FUZZ_AD) - 1, data, size, pt,
                                        &n, NULL);
    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        fuzz_state(pt, n);
    }

    rc = ngx_http_coze_auth_open(&fuzz_key, 1,
                                 (const unsigned char *) FUZZ_AD,
                                 sizeof(FUZZ_AD) - 1, data, size, pt, &n,
                                 NULL);
    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        fuzz_state(pt, n);
    }

    /* sealed for the session cookie: never accepted as a state cookie */

    if (size <= 2048) {
        blob = malloc(size + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD);

        if (blob != NULL) {
            rc = ngx_http_coze_auth_seal(&fuzz_key,
                                     (const unsigned char *) FUZZ_SESSION_AD,
                                     sizeof(FUZZ_SESSION_AD) - 1, data, size,
                                     blob, &n);
            if (rc != NGX_HTTP_COZE_AUTH_OK) {
                abort();
            }

            rc = ngx_http_coze_auth_open(&fuzz_key, 1,
                                         (const unsigned char *) FUZZ_AD,
                                         sizeof(FUZZ_AD) - 1, blob, n, pt,
                                         &m, NULL);
            if (rc != NGX_HTTP_COZE_AUTH_E_AUTH) {
                abort();
            }

            free(blob);
        }
    }

    free(pt);

    return 0;
}


static void
fuzz_state(const unsigned char *p, size_t len)
{
    size_t                        n;
    unsigned char                *out;
    ngx_http_coze_auth_state_t    st;
    ngx_http_coze_auth_session_t  s;

    if (ngx_http_coze_auth_state_decode(&st, p, len)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return;
    }

    if (ngx_http_coze_auth_session_decode(&s, p, len)
        == NGX_HTTP_COZE_AUTH_OK)
    {
        abort();
    }

    n = ngx_http_coze_auth_state_encoded_len(&st);
    if (n != len) {
        abort();
    }

    out = malloc(n);
    if (out == NULL) {
        return;
    }

    if (ngx_http_coze_auth_state_encode(&st, out) != n
        || memcmp(out, p, n) != 0)
    {
        abort();
    }

    /* what the callback does with the saved return path */

    (void) ngx_http_coze_auth_return_path_valid(st.return_to.data,
                                                st.return_to.len);

    free(out);
}

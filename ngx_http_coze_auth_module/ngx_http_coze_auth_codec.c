
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 */


#include <string.h>

#include "ngx_http_coze_auth_codec.h"


#define NGX_HTTP_COZE_AUTH_SESSION_INTS  4
#define NGX_HTTP_COZE_AUTH_SESSION_STRS  6
#define NGX_HTTP_COZE_AUTH_STATE_INTS    1
#define NGX_HTTP_COZE_AUTH_STATE_STRS    4


static size_t ngx_http_coze_auth_fields_len(size_t nints,
    const ngx_http_coze_auth_str_t *const *strs, size_t nstrs);
static size_t ngx_http_coze_auth_fields_encode(unsigned char *out,
    unsigned char type, const int64_t *ints, size_t nints,
    const ngx_http_coze_auth_str_t *const *strs, size_t nstrs);
static int ngx_http_coze_auth_fields_decode(const unsigned char *in,
    size_t len, unsigned char type, int64_t *ints, size_t nints,
    ngx_http_coze_auth_str_t *strs, size_t nstrs);


size_t
ngx_http_coze_auth_session_encoded_len(const ngx_http_coze_auth_session_t *s)
{
    const ngx_http_coze_auth_str_t  *strs[NGX_HTTP_COZE_AUTH_SESSION_STRS];

    strs[0] = &s->access_token;
    strs[1] = &s->refresh_token;
    strs[2] = &s->user_id;
    strs[3] = &s->user_name;
    strs[4] = &s->nick_name;
    strs[5] = &s->avatar_url;

    return ngx_http_coze_auth_fields_len(NGX_HTTP_COZE_AUTH_SESSION_INTS,
                                         strs,
                                         NGX_HTTP_COZE_AUTH_SESSION_STRS);
}


size_t
ngx_http_coze_auth_session_encode(const ngx_http_coze_auth_session_t *s,
    unsigned char *out)
{
    int64_t                          ints[NGX_HTTP_COZE_AUTH_SESSION_INTS];
    const ngx_http_coze_auth_str_t  *strs[NGX_HTTP_COZE_AUTH_SESSION_STRS];

    ints[0] = s->created;
    ints[1] = s->last_seen;
    ints[2] = s->expires;
    ints[3] = s->refresh_expires;

    strs[0] = &s->access_token;
    strs[1] = &s->refresh_token;
    strs[2] = &s->user_id;
    strs[3] = &s->user_name;
    strs[4] = &s->nick_name;
    strs[5] = &s->avatar_url;

    return ngx_http_coze_auth_fields_encode(out,
                                            NGX_HTTP_COZE_AUTH_SESSION_V1,
                                            ints,
                                            NGX_HTTP_COZE_AUTH_SESSION_INTS,
                                            strs,
                                            NGX_HTTP_COZE_AUTH_SESSION_STRS);
}


int
ngx_http_coze_auth_session_decode(ngx_http_coze_auth_session_t *s,
    const unsigned char *in, size_t len)
{
    int                       rc;
    int64_t                   ints[NGX_HTTP_COZE_AUTH_SESSION_INTS];
    ngx_http_coze_auth_str_t  strs[NGX_HTTP_COZE_AUTH_SESSION_STRS];

    rc = ngx_http_coze_auth_fields_decode(in, len,
                                          NGX_HTTP_COZE_AUTH_SESSION_V1,
                                          ints,
                                          NGX_HTTP_COZE_AUTH_SESSION_INTS,
                                          strs,
                                          NGX_HTTP_COZE_AUTH_SESSION_STRS);
    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        return rc;
    }

    s->created = ints[0];
    s->last_seen = ints[1];
    s->expires = ints[2];
    s->refresh_expires = ints[3];

    s->access_token = strs[0];
    s->refresh_token = strs[1];
    s->user_id = strs[2];
    s->user_name = strs[3];
    s->nick_name = strs[4];
    s->avatar_url = strs[5];

    return NGX_HTTP_COZE_AUTH_OK;
}


size_t
ngx_http_coze_auth_state_encoded_len(const ngx_http_coze_auth_state_t *st)
{
    const ngx_http_coze_auth_str_t  *strs[NGX_HTTP_COZE_AUTH_STATE_STRS];

    strs[0] = &st->state;
    strs[1] = &st->verifier;
    strs[2] = &st->return_to;
    strs[3] = &st->redirect_uri;

    return ngx_http_coze_auth_fields_len(NGX_HTTP_COZE_AUTH_STATE_INTS,
                                         strs,
                                         NGX_HTTP_COZE_AUTH_STATE_STRS);
}


size_t
ngx_http_coze_auth_state_encode(const ngx_http_coze_auth_state_t *st,
    unsigned char *out)
{
    int64_t                          ints[NGX_HTTP_COZE_AUTH_STATE_INTS];
    const ngx_http_coze_auth_str_t  *strs[NGX_HTTP_COZE_AUTH_STATE_STRS];

    ints[0] = st->created;

    strs[0] = &st->state;
    strs[1] = &st->verifier;
    strs[2] = &st->return_to;
    strs[3] = &st->redirect_uri;

    return ngx_http_coze_auth_fields_encode(out, NGX_HTTP_COZE_AUTH_STATE_V1,
                                            ints,
                                            NGX_HTTP_COZE_AUTH_STATE_INTS,
                                            strs,
                                            NGX_HTTP_COZE_AUTH_STATE_STRS);
}


int
ngx_http_coze_auth_state_decode(ngx_http_coze_auth_state_t *st,
    const unsigned char *in, size_t len)
{
    int                       rc;
    int64_t                   ints[NGX_HTTP_COZE_AUTH_STATE_INTS];
    ngx_http_coze_auth_str_t  strs[NGX_HTTP_COZE_AUTH_STATE_STRS];

    rc = ngx_http_coze_auth_fields_decode(in, len,
                                          NGX_HTTP_COZE_AUTH_STATE_V1,
                                          ints,
                                          NGX_HTTP_COZE_AUTH_STATE_INTS,
                                          strs,
                                          NGX_HTTP_COZE_AUTH_STATE_STRS);
    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        return rc;
    }

    st->created = ints[0];

    st->state = strs[0];
    st->verifier = strs[1];
    st->return_to = strs[2];
    st->redirect_uri = strs[3];

    return NGX_HTTP_COZE_AUTH_OK;
}


static size_t
ngx_http_coze_auth_fields_len(size_t nints,
    const ngx_http_coze_auth_str_t *const *strs, size_t nstrs)
{
    size_t  i, n;

    n = 1 + nints * 8;

    for (i = 0; i < nstrs; i++) {
        if (strs[i]->len > NGX_HTTP_COZE_AUTH_CODEC_STR_MAX) {
            return 0;
        }

        n += 2 + strs[i]->len;
    }

    return n;
}


static size_t
ngx_http_coze_auth_fields_encode(unsigned char *out, unsigned char type,
    const int64_t *ints, size_t nints,
    const ngx_http_coze_auth_str_t *const *strs, size_t nstrs)
{
    size_t          i, k;
    uint64_t        v;
    unsigned char  *p;

    if (ngx_http_coze_auth_fields_len(nints, strs, nstrs) == 0) {
        return 0;
    }

    p = out;
    *p++ = type;

    for (i = 0; i < nints; i++) {
        v = (uint64_t) ints[i];

        for (k = 0; k < 8; k++) {
            *p++ = (unsigned char) (v >> (56 - 8 * k));
        }
    }

    for (i = 0; i < nstrs; i++) {
        *p++ = (unsigned char) (strs[i]->len >> 8);
        *p++ = (unsigned char) strs[i]->len;

        if (strs[i]->len) {
            memcpy(p, strs[i]->data, strs[i]->len);
            p += strs[i]->len;
        }
    }

    return p - out;
}


static int
ngx_http_coze_auth_fields_decode(const unsigned char *in, size_t len,
    unsigned char type, int64_t *ints, size_t nints,
    ngx_http_coze_auth_str_t *strs, size_t nstrs)
{
    size_t                i, k, slen;
    uint64_t              v;
    const unsigned char  *p, *end;

    if (in == NULL || len < 1 + nints * 8 + nstrs * 2 || in[0] != type) {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    p = in + 1;
    end = in + len;

    for (i = 0; i < nints; i++) {
        v = 0;

        for (k = 0; k < 8; k++) {
            v = (v << 8) | *p++;
        }

        /* two's complement back; no signed overflow */
        ints[i] = v > INT64_MAX ? -(int64_t) (~v) - 1 : (int64_t) v;
    }

    for (i = 0; i < nstrs; i++) {
        if (end - p < 2) {
            return NGX_HTTP_COZE_AUTH_E_FORMAT;
        }

        slen = ((size_t) p[0] << 8) | p[1];
        p += 2;

        if ((size_t) (end - p) < slen) {
            return NGX_HTTP_COZE_AUTH_E_FORMAT;
        }

        strs[i].len = slen;
        strs[i].data = (unsigned char *) p;
        p += slen;
    }

    if (p != end) {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}

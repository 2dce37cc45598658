
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Versioned binary payloads carried inside the sealed cookies: the user
 * session and the per-flow login state.
 *
 * Layout: one type/version byte, int64 fields big-endian (two's
 * complement), strings as a 2-byte big-endian length and the bytes.
 */


#ifndef _NGX_HTTP_COZE_AUTH_CODEC_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_CODEC_H_INCLUDED_


#include "ngx_http_coze_auth_core.h"


/* high nibble: payload type, low nibble: version of that type */
#define NGX_HTTP_COZE_AUTH_SESSION_V1  0x51
#define NGX_HTTP_COZE_AUTH_STATE_V1    0xa1

/* longest string a payload can carry */
#define NGX_HTTP_COZE_AUTH_CODEC_STR_MAX  0xffff


typedef struct {
    int64_t                   created;          /* login time */
    int64_t                   last_seen;        /* for the idle timeout */
    int64_t                   expires;          /* access token, unix s */
    int64_t                   refresh_expires;  /* 0: unknown */
    ngx_http_coze_auth_str_t  access_token;
    ngx_http_coze_auth_str_t  refresh_token;
    ngx_http_coze_auth_str_t  user_id;
    ngx_http_coze_auth_str_t  user_name;
    ngx_http_coze_auth_str_t  nick_name;
    ngx_http_coze_auth_str_t  avatar_url;
} ngx_http_coze_auth_session_t;


typedef struct {
    int64_t                   created;
    ngx_http_coze_auth_str_t  state;
    ngx_http_coze_auth_str_t  verifier;
    ngx_http_coze_auth_str_t  return_to;
    ngx_http_coze_auth_str_t  redirect_uri;
} ngx_http_coze_auth_state_t;


/*
 * encoded_len() returns 0 if a string is longer than
 * NGX_HTTP_COZE_AUTH_CODEC_STR_MAX; encode() then writes nothing and
 * returns 0, else the number of bytes written (== encoded_len()).
 * decode() returns OK or E_FORMAT (wrong type/version, truncated,
 * trailing bytes); strings of the result point into in.
 */

size_t ngx_http_coze_auth_session_encoded_len(
    const ngx_http_coze_auth_session_t *s);
size_t ngx_http_coze_auth_session_encode(
    const ngx_http_coze_auth_session_t *s, unsigned char *out);
int ngx_http_coze_auth_session_decode(ngx_http_coze_auth_session_t *s,
    const unsigned char *in, size_t len);

size_t ngx_http_coze_auth_state_encoded_len(
    const ngx_http_coze_auth_state_t *st);
size_t ngx_http_coze_auth_state_encode(const ngx_http_coze_auth_state_t *st,
    unsigned char *out);
int ngx_http_coze_auth_state_decode(ngx_http_coze_auth_state_t *st,
    const unsigned char *in, size_t len);


#endif /* _NGX_HTTP_COZE_AUTH_CODEC_H_INCLUDED_ */

/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Coze OAuth wire format: authorize URL, PKCE, token request bodies,
 * token and /v1/users/me response parsing.  Pure C, no nginx types.
 *
 * Every string produced here is allocated through the given mem and is
 * NUL-terminated (len does not count the NUL).  Absent optional values are
 * returned as { 0, NULL }.  Optional input arguments may be NULL or empty.
 * No jansson type leaks out: responses are parsed, copied and released.
 */


#ifndef _NGX_HTTP_COZE_AUTH_PROTO_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_PROTO_H_INCLUDED_


#include "ngx_http_coze_auth_core.h"


/*
 * responses larger than this are rejected without parsing; the same as the
 * transfer limit NGX_HTTP_COZE_AUTH_MAX_RESPONSE, so that a body the
 * client accepted is never refused here as "invalid"
 */
#define NGX_HTTP_COZE_AUTH_BODY_MAX  (256 * 1024)

/* expires_in values below this are durations, not unix timestamps */
#define NGX_HTTP_COZE_AUTH_EXPIRES_ABS_MIN  1000000000


typedef struct {
    ngx_http_coze_auth_str_t  access_token;
    ngx_http_coze_auth_str_t  refresh_token;
    ngx_http_coze_auth_str_t  token_type;
    ngx_http_coze_auth_str_t  error_code;
    ngx_http_coze_auth_str_t  error_message;
    ngx_http_coze_auth_str_t  logid;
    int64_t                   expires_at;
} ngx_http_coze_auth_token_t;


typedef struct {
    ngx_http_coze_auth_str_t  user_id;
    ngx_http_coze_auth_str_t  user_name;
    ngx_http_coze_auth_str_t  nick_name;
    ngx_http_coze_auth_str_t  avatar_url;
    ngx_http_coze_auth_str_t  msg;
    ngx_http_coze_auth_str_t  logid;
    long                      code;
} ngx_http_coze_auth_user_t;


/*
 * {www}/api/permission/oauth2[/workspace_id/{id}]/authorize
 *     ?response_type=code&client_id=..&redirect_uri=..&state=..
 *     [&code_challenge=..&code_challenge_method=S256]
 * Trailing '/' of www_base dropped, values percent-encoded (RFC 3986
 * unreserved kept), state= always present.  ERROR if www_base is empty.
 */
int ngx_http_coze_auth_authorize_url(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *www_base,
    const ngx_http_coze_auth_str_t *workspace_id,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *redirect_uri,
    const ngx_http_coze_auth_str_t *state,
    const ngx_http_coze_auth_str_t *code_challenge,
    ngx_http_coze_auth_str_t *out);

/* the first host label "api" becomes "www"; other URLs are copied */
int ngx_http_coze_auth_www_from_api(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api, ngx_http_coze_auth_str_t *www);

/*
 * {api}/api/permission/oauth2/token, .../account/{id}/token or
 * .../enterprise_id/{id}/token; ERROR if both ids are given.
 */
int ngx_http_coze_auth_token_url(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api_base,
    const ngx_http_coze_auth_str_t *account_id,
    const ngx_http_coze_auth_str_t *enterprise_id,
    ngx_http_coze_auth_str_t *out);

/* 43 base64url chars from 32 RAND_bytes; S256 challenge of a verifier */
int ngx_http_coze_auth_pkce_verifier(ngx_http_coze_auth_mem_t *mem,
    ngx_http_coze_auth_str_t *out);
int ngx_http_coze_auth_pkce_s256(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *verifier,
    ngx_http_coze_auth_str_t *challenge);

/*
 * Token request JSON bodies (compact, fields in the order below).  ERROR
 * for invalid UTF-8.
 *   code:    grant_type, code, client_id, redirect_uri[, code_verifier]
 *            (verifier empty or NULL for web apps)
 *   refresh: grant_type, client_id, refresh_token
 *   jwt:     grant_type[, duration_seconds (if > 0)][, scope (the text
 *            of a JSON object, or empty/NULL)]
 */
int ngx_http_coze_auth_code_request(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *redirect_uri,
    const ngx_http_coze_auth_str_t *code,
    const ngx_http_coze_auth_str_t *verifier,
    ngx_http_coze_auth_str_t *out);
int ngx_http_coze_auth_refresh_request(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *refresh_token,
    ngx_http_coze_auth_str_t *out);
int ngx_http_coze_auth_jwt_request(ngx_http_coze_auth_mem_t *mem,
    int64_t duration_seconds, const ngx_http_coze_auth_str_t *scope_json,
    ngx_http_coze_auth_str_t *out);

/*
 * Token endpoint answer.  Returns
 *   OK        2xx, non-empty access_token, positive integer expires_in
 *             (expires_at = expires_in, or now + expires_in below 10^9);
 *             {"code":0,"data":{..}} envelopes are unwrapped;
 *   E_REMOTE  Coze said no: error_code (or error, string or integer)
 *             present, an error_message on a non-2xx status, or an
 *             envelope code != 0 (error_code = the code in decimal,
 *             error_message = msg); logid from detail.logid;
 *   ERROR     anything else: not a JSON object, truncated, over
 *             NGX_HTTP_COZE_AUTH_BODY_MAX, wrong types, duplicate keys,
 *             control characters in tokens, non-2xx without error fields.
 * Control characters in messages and logid are replaced by spaces.
 */
int ngx_http_coze_auth_parse_token(ngx_http_coze_auth_mem_t *mem,
    long http_status, const unsigned char *body, size_t len, int64_t now,
    ngx_http_coze_auth_token_t *out);

/*
 * GET /v1/users/me answer.  OK: 2xx, code 0 (or absent), data.user_id a
 * non-empty string or an integer (rendered in decimal).  E_REMOTE: code
 * != 0, or a non-2xx status with a JSON object body (msg falls back to
 * error_message).  ERROR: malformed.  Control characters in names, msg
 * and logid become spaces; in user_id they are an error.
 */
int ngx_http_coze_auth_parse_user(ngx_http_coze_auth_mem_t *mem,
    long http_status, const unsigned char *body, size_t len,
    ngx_http_coze_auth_user_t *out);


#endif /* _NGX_HTTP_COZE_AUTH_PROTO_H_INCLUDED_ */

/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Coze OAuth wire format (see coze-oauth-spec.md sections 2-5 and 8).
 * All jansson objects stay inside this file: parse, copy into mem, decref.
 */


#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_util.h"


#define NGX_HTTP_COZE_AUTH_PROTO_STRICT    0   /* control chars: error */
#define NGX_HTTP_COZE_AUTH_PROTO_SANITIZE  1   /* control chars: space */

#define NGX_HTTP_COZE_AUTH_AUTHORIZE_PATH  "/api/permission/oauth2"
#define NGX_HTTP_COZE_AUTH_GRANT_JWT                                         \
    "urn:ietf:params:oauth:grant-type:jwt-bearer"


#define ngx_http_coze_auth_proto_empty(s)  ((s) == NULL || (s)->len == 0)
#define ngx_http_coze_auth_proto_2xx(st)   ((st) >= 200 && (st) < 300)

/* RFC 3986 unreserved characters */

static unsigned char *ngx_http_coze_auth_proto_cpymem(unsigned char *dst,
    const void *src, size_t n);
static int ngx_http_coze_auth_proto_dup(ngx_http_coze_auth_mem_t *mem,
    const void *src, size_t len, ngx_http_coze_auth_str_t *out);
static size_t ngx_http_coze_auth_proto_base_len(
    const ngx_http_coze_auth_str_t *base);
static size_t ngx_http_coze_auth_proto_escape_len(
    const ngx_http_coze_auth_str_t *s);
static unsigned char *ngx_http_coze_auth_proto_escape(unsigned char *dst,
    const ngx_http_coze_auth_str_t *s);
static int ngx_http_coze_auth_proto_set(json_t *obj, const char *key,
    const ngx_http_coze_auth_str_t *value);
static int ngx_http_coze_auth_proto_dump(ngx_http_coze_auth_mem_t *mem,
    json_t *obj, ngx_http_coze_auth_str_t *out);
static json_t *ngx_http_coze_auth_proto_load(const unsigned char *body,
    size_t len);
static int ngx_http_coze_auth_proto_get_str(ngx_http_coze_auth_mem_t *mem,
    json_t *obj, const char *key, int mode, ngx_http_coze_auth_str_t *out);
static int ngx_http_coze_auth_proto_get_id(ngx_http_coze_auth_mem_t *mem,
    json_t *obj, const char *key, int mode, ngx_http_coze_auth_str_t *out);
static int ngx_http_coze_auth_proto_get_logid(ngx_http_coze_auth_mem_t *mem,
    json_t *root, ngx_http_coze_auth_str_t *out);
static int ngx_http_coze_auth_proto_token(ngx_http_coze_auth_mem_t *mem,
    long http_status, json_t *root, int64_t now,
    ngx_http_coze_auth_token_t *out);
static int ngx_http_coze_auth_proto_user(ngx_http_coze_auth_mem_t *mem,
    long http_status, json_t *root, ngx_http_coze_auth_user_t *out);


static unsigned char *
ngx_http_coze_auth_proto_cpymem(unsigned char *dst, const void *src,
    size_t n)
{
    if (n == 0) {
        return dst;
    }

    return (unsigned char *) memcpy(dst, src, n) + n;
}


static int
ngx_http_coze_auth_proto_dup(ngx_http_coze_auth_mem_t *mem, const void *src,
    size_t len, ngx_http_coze_auth_str_t *out)
{
    unsigned char  *p;

    if (len == SIZE_MAX) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = mem->alloc(mem->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    *ngx_http_coze_auth_proto_cpymem(p, src, len) = '\0';

    out->len = len;
    out->data = p;

    return NGX_HTTP_COZE_AUTH_OK;
}


/* length of a base URL without its trailing slashes */

static size_t
ngx_http_coze_auth_proto_base_len(const ngx_http_coze_auth_str_t *base)
{
    size_t  len;

    len = base->len;

    while (len > 0 && base->data[len - 1] == '/') {
        len--;
    }

    return len;
}


/* percent-encoding: RFC 3986 unreserved characters are kept */

static size_t
ngx_http_coze_auth_proto_escape_len(const ngx_http_coze_auth_str_t *s)
{
    if (ngx_http_coze_auth_proto_empty(s)) {
        return 0;
    }

    return ngx_http_coze_auth_url_escape(NULL, s->data, s->len);
}


static unsigned char *
ngx_http_coze_auth_proto_escape(unsigned char *dst,
    const ngx_http_coze_auth_str_t *s)
{
    if (ngx_http_coze_auth_proto_empty(s)) {
        return dst;
    }

    return dst + ngx_http_coze_auth_url_escape(dst, s->data, s->len);
}


int
ngx_http_coze_auth_authorize_url(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *www_base,
    const ngx_http_coze_auth_str_t *workspace_id,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *redirect_uri,
    const ngx_http_coze_auth_str_t *state,
    const ngx_http_coze_auth_str_t *code_challenge,
    ngx_http_coze_auth_str_t *out)
{
    size_t          base, len;
    unsigned char  *p, *start;

    static const char  ws[] = NGX_HTTP_COZE_AUTH_AUTHORIZE_PATH
                              "/workspace_id/";
    static const char  path[] = NGX_HTTP_COZE_AUTH_AUTHORIZE_PATH;
    static const char  query[] = "/authorize?response_type=code&client_id=";
    static const char  ru[] = "&redirect_uri=";
    static const char  st[] = "&state=";
    static const char  cc[] = "&code_challenge=";
    static const char  ccm[] = "&code_challenge_method=S256";

    if (ngx_http_coze_auth_proto_empty(www_base)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    base = ngx_http_coze_auth_proto_base_len(www_base);

    len = base + sizeof(query) - 1
          + ngx_http_coze_auth_proto_escape_len(client_id)
          + sizeof(ru) - 1 + ngx_http_coze_auth_proto_escape_len(redirect_uri)
          + sizeof(st) - 1 + ngx_http_coze_auth_proto_escape_len(state);

    if (ngx_http_coze_auth_proto_empty(workspace_id)) {
        len += sizeof(path) - 1;

    } else {
        len += sizeof(ws) - 1
               + ngx_http_coze_auth_proto_escape_len(workspace_id);
    }

    if (!ngx_http_coze_auth_proto_empty(code_challenge)) {
        len += sizeof(cc) - 1
               + ngx_http_coze_auth_proto_escape_len(code_challenge)
               + sizeof(ccm) - 1;
    }

    start = mem->alloc(mem->pool, len + 1);
    if (start == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = ngx_http_coze_auth_proto_cpymem(start, www_base->data, base);

    if (ngx_http_coze_auth_proto_empty(workspace_id)) {
        p = ngx_http_coze_auth_proto_cpymem(p, path, sizeof(path) - 1);

    } else {
        p = ngx_http_coze_auth_proto_cpymem(p, ws, sizeof(ws) - 1);
        p = ngx_http_coze_auth_proto_escape(p, workspace_id);
    }

    p = ngx_http_coze_auth_proto_cpymem(p, query, sizeof(query) - 1);
    p = ngx_http_coze_auth_proto_escape(p, client_id);
    p = ngx_http_coze_auth_proto_cpymem(p, ru, sizeof(ru) - 1);
    p = ngx_http_coze_auth_proto_escape(p, redirect_uri);
    p = ngx_http_coze_auth_proto_cpymem(p, st, sizeof(st) - 1);
    p = ngx_http_coze_auth_proto_escape(p, state);

    if (!ngx_http_coze_auth_proto_empty(code_challenge)) {
        p = ngx_http_coze_auth_proto_cpymem(p, cc, sizeof(cc) - 1);
        p = ngx_http_coze_auth_proto_escape(p, code_challenge);
        p = ngx_http_coze_auth_proto_cpymem(p, ccm, sizeof(ccm) - 1);
    }

    *p = '\0';

    out->len = p - start;
    out->data = start;

    return NGX_HTTP_COZE_AUTH_OK;
}


/*
 * "https://api.coze.cn" -> "https://www.coze.cn": the first "api" label of
 * the host becomes "www" (coze-go newOAuthClient replaces the first "api."
 * anywhere; this stays in the host and on label boundaries); other URLs,
 * e.g. a mock on 127.0.0.1, are copied unchanged.
 */

int
ngx_http_coze_auth_www_from_api(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api, ngx_http_coze_auth_str_t *www)
{
    unsigned char  *p, *host, *end, *q;

    if (ngx_http_coze_auth_proto_empty(api)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = api->data;
    end = p + api->len;
    host = p;

    for (q = p; end - q >= 3; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            host = q + 3;
            break;
        }

        if (*q == '/' || *q == '?' || *q == '#') {
            break;
        }
    }

    for (q = host; q < end; q++) {
        if (*q == '/' || *q == '?' || *q == '#') {
            break;
        }

        if (*q == '@') {
            host = q + 1;
        }
    }

    end = q;

    for (q = host; end - q >= 4; q++) {
        if ((q == host || q[-1] == '.')
            && (q[0] | 0x20) == 'a' && (q[1] | 0x20) == 'p'
            && (q[2] | 0x20) == 'i' && q[3] == '.')
        {
            break;
        }
    }

    if (ngx_http_coze_auth_proto_dup(mem, api->data, api->len, www)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (end - q >= 4) {
        memcpy(www->data + (q - api->data), "www", 3);
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_token_url(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api_base,
    const ngx_http_coze_auth_str_t *account_id,
    const ngx_http_coze_auth_str_t *enterprise_id,
    ngx_http_coze_auth_str_t *out)
{
    size_t                           base, len;
    unsigned char                   *p, *start;
    const char                      *mid;
    const ngx_http_coze_auth_str_t  *id;

    static const char  path[] = "/api/permission/oauth2/";
    static const char  token[] = "token";

    if (ngx_http_coze_auth_proto_empty(api_base)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (!ngx_http_coze_auth_proto_empty(account_id)) {
        if (!ngx_http_coze_auth_proto_empty(enterprise_id)) {
            /* ambiguous: the caller must choose one */
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        mid = "account/";
        id = account_id;

    } else if (!ngx_http_coze_auth_proto_empty(enterprise_id)) {
        mid = "enterprise_id/";
        id = enterprise_id;

    } else {
        mid = "";
        id = NULL;
    }

    base = ngx_http_coze_auth_proto_base_len(api_base);

    len = base + sizeof(path) - 1 + strlen(mid)
          + ngx_http_coze_auth_proto_escape_len(id) + (id ? 1 : 0)
          + sizeof(token) - 1;

    start = mem->alloc(mem->pool, len + 1);
    if (start == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = ngx_http_coze_auth_proto_cpymem(start, api_base->data, base);
    p = ngx_http_coze_auth_proto_cpymem(p, path, sizeof(path) - 1);
    p = ngx_http_coze_auth_proto_cpymem(p, mid, strlen(mid));

    if (id) {
        p = ngx_http_coze_auth_proto_escape(p, id);
        *p++ = '/';
    }

    p = ngx_http_coze_auth_proto_cpymem(p, token, sizeof(token) - 1);
    *p = '\0';

    out->len = p - start;
    out->data = start;

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_pkce_verifier(ngx_http_coze_auth_mem_t *mem,
    ngx_http_coze_auth_str_t *out)
{
    unsigned char  *p;
    unsigned char   rnd[32];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = mem->alloc(mem->pool, (sizeof(rnd) * 4 + 2) / 3 + 1);
    if (p == NULL) {
        OPENSSL_cleanse(rnd, sizeof(rnd));
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    out->len = ngx_http_coze_auth_b64url_encode(p, rnd, sizeof(rnd));
    out->data = p;
    p[out->len] = '\0';

    OPENSSL_cleanse(rnd, sizeof(rnd));

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_pkce_s256(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *verifier,
    ngx_http_coze_auth_str_t *challenge)
{
    unsigned int    n;
    unsigned char  *p;
    unsigned char   md[EVP_MAX_MD_SIZE];

    if (ngx_http_coze_auth_proto_empty(verifier)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (EVP_Digest(verifier->data, verifier->len, md, &n, EVP_sha256(), NULL)
        != 1)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = mem->alloc(mem->pool, (n * 4 + 2) / 3 + 1);
    if (p == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    challenge->len = ngx_http_coze_auth_b64url_encode(p, md, n);
    challenge->data = p;
    p[challenge->len] = '\0';

    return NGX_HTTP_COZE_AUTH_OK;
}


/* request bodies */

static int
ngx_http_coze_auth_proto_set(json_t *obj, const char *key,
    const ngx_http_coze_auth_str_t *value)
{
    json_t  *s;

    if (ngx_http_coze_auth_proto_empty(value)) {
        s = json_string("");

    } else {
        /* NULL for invalid UTF-8 */
        s = json_stringn((const char *) value->data, value->len);
    }

    if (s == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (json_object_set_new(obj, key, s) != 0) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


/* serializes obj compactly into mem and releases obj */

static int
ngx_http_coze_auth_proto_dump(ngx_http_coze_auth_mem_t *mem, json_t *obj,
    ngx_http_coze_auth_str_t *out)
{
    size_t          len;
    unsigned char  *p;

    len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        goto failed;
    }

    p = mem->alloc(mem->pool, len + 1);
    if (p == NULL) {
        goto failed;
    }

    if (json_dumpb(obj, (char *) p, len, JSON_COMPACT) != len) {
        goto failed;
    }

    p[len] = '\0';

    out->len = len;
    out->data = p;

    json_decref(obj);

    return NGX_HTTP_COZE_AUTH_OK;

failed:

    json_decref(obj);

    return NGX_HTTP_COZE_AUTH_ERROR;
}


int
ngx_http_coze_auth_code_request(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *redirect_uri,
    const ngx_http_coze_auth_str_t *code,
    const ngx_http_coze_auth_str_t *verifier,
    ngx_http_coze_auth_str_t *out)
{
    json_t                    *obj;
    ngx_http_coze_auth_str_t   grant;

    ngx_http_coze_auth_str_set(&grant, "authorization_code");

    obj = json_object();
    if (obj == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_set(obj, "grant_type", &grant)
        || ngx_http_coze_auth_proto_set(obj, "code", code)
        || ngx_http_coze_auth_proto_set(obj, "client_id", client_id)
        || ngx_http_coze_auth_proto_set(obj, "redirect_uri", redirect_uri)
        || (!ngx_http_coze_auth_proto_empty(verifier)
            && ngx_http_coze_auth_proto_set(obj, "code_verifier", verifier)))
    {
        json_decref(obj);
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return ngx_http_coze_auth_proto_dump(mem, obj, out);
}


int
ngx_http_coze_auth_refresh_request(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *client_id,
    const ngx_http_coze_auth_str_t *refresh_token,
    ngx_http_coze_auth_str_t *out)
{
    json_t                    *obj;
    ngx_http_coze_auth_str_t   grant;

    ngx_http_coze_auth_str_set(&grant, "refresh_token");

    obj = json_object();
    if (obj == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_set(obj, "grant_type", &grant)
        || ngx_http_coze_auth_proto_set(obj, "client_id", client_id)
        || ngx_http_coze_auth_proto_set(obj, "refresh_token", refresh_token))
    {
        json_decref(obj);
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return ngx_http_coze_auth_proto_dump(mem, obj, out);
}


/*
 * duration_seconds <= 0 leaves the field out (server default, 900 s);
 * scope_json, when given, must be the text of a JSON object.
 */

int
ngx_http_coze_auth_jwt_request(ngx_http_coze_auth_mem_t *mem,
    int64_t duration_seconds, const ngx_http_coze_auth_str_t *scope_json,
    ngx_http_coze_auth_str_t *out)
{
    json_t                    *obj, *v;
    ngx_http_coze_auth_str_t   grant;

    ngx_http_coze_auth_str_set(&grant, NGX_HTTP_COZE_AUTH_GRANT_JWT);

    obj = json_object();
    if (obj == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_set(obj, "grant_type", &grant)) {
        goto failed;
    }

    if (duration_seconds > 0) {
        v = json_integer((json_int_t) duration_seconds);

        if (json_object_set_new(obj, "duration_seconds", v) != 0) {
            goto failed;
        }
    }

    if (!ngx_http_coze_auth_proto_empty(scope_json)) {
        v = json_loadb((const char *) scope_json->data, scope_json->len,
                       JSON_REJECT_DUPLICATES, NULL);

        if (!json_is_object(v)) {
            json_decref(v);
            goto failed;
        }

        if (json_object_set_new(obj, "scope", v) != 0) {
            goto failed;
        }
    }

    return ngx_http_coze_auth_proto_dump(mem, obj, out);

failed:

    json_decref(obj);

    return NGX_HTTP_COZE_AUTH_ERROR;
}


/* response parsing */

static json_t *
ngx_http_coze_auth_proto_load(const unsigned char *body, size_t len)
{
    json_t  *root;

    if (body == NULL || len == 0 || len > NGX_HTTP_COZE_AUTH_BODY_MAX) {
        return NULL;
    }

    root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL) {
        return NULL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }

    return root;
}


/*
 * Copies a string member.  Absent or null: { 0, NULL }.  Another type:
 * error.  Control characters are an error in STRICT mode (tokens and ids,
 * which end up in request headers) and become spaces in SANITIZE mode
 * (display names and messages, which end up in headers and logs).
 */

static int
ngx_http_coze_auth_proto_get_str(ngx_http_coze_auth_mem_t *mem, json_t *obj,
    const char *key, int mode, ngx_http_coze_auth_str_t *out)
{
    size_t          i, len;
    json_t         *v;
    const char     *s;
    unsigned char   c;

    out->len = 0;
    out->data = NULL;

    v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return NGX_HTTP_COZE_AUTH_OK;
    }

    if (!json_is_string(v)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (mode == NGX_HTTP_COZE_AUTH_PROTO_STRICT) {
        for (i = 0; i < len; i++) {
            c = (unsigned char) s[i];

            if (c < 0x20 || c == 0x7f) {
                return NGX_HTTP_COZE_AUTH_ERROR;
            }
        }
    }

    if (ngx_http_coze_auth_proto_dup(mem, s, len, out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (out->data[i] < 0x20 || out->data[i] == 0x7f) {
            out->data[i] = ' ';
        }
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


/* like get_str, but a JSON integer is accepted and rendered in decimal */

static int
ngx_http_coze_auth_proto_get_id(ngx_http_coze_auth_mem_t *mem, json_t *obj,
    const char *key, int mode, ngx_http_coze_auth_str_t *out)
{
    int      n;
    json_t  *v;
    char     buf[32];

    v = json_object_get(obj, key);

    if (!json_is_integer(v)) {
        return ngx_http_coze_auth_proto_get_str(mem, obj, key, mode, out);
    }

    n = snprintf(buf, sizeof(buf), "%lld",
                 (long long) json_integer_value(v));

    if (n <= 0 || (size_t) n >= sizeof(buf)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return ngx_http_coze_auth_proto_dup(mem, buf, n, out);
}


/* detail.logid of the OpenAPI envelope; anything unexpected is ignored */

static int
ngx_http_coze_auth_proto_get_logid(ngx_http_coze_auth_mem_t *mem,
    json_t *root, ngx_http_coze_auth_str_t *out)
{
    json_t  *detail;

    out->len = 0;
    out->data = NULL;

    detail = json_object_get(root, "detail");

    if (!json_is_object(detail)
        || !json_is_string(json_object_get(detail, "logid")))
    {
        return NGX_HTTP_COZE_AUTH_OK;
    }

    return ngx_http_coze_auth_proto_get_str(mem, detail, "logid",
                                            NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                            out);
}


int
ngx_http_coze_auth_parse_token(ngx_http_coze_auth_mem_t *mem,
    long http_status, const unsigned char *body, size_t len, int64_t now,
    ngx_http_coze_auth_token_t *out)
{
    int      rc;
    json_t  *root;

    memset(out, 0, sizeof(ngx_http_coze_auth_token_t));

    root = ngx_http_coze_auth_proto_load(body, len);
    if (root == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = ngx_http_coze_auth_proto_token(mem, http_status, root, now, out);

    json_decref(root);

    return rc;
}


static int
ngx_http_coze_auth_proto_token(ngx_http_coze_auth_mem_t *mem,
    long http_status, json_t *root, int64_t now,
    ngx_http_coze_auth_token_t *out)
{
    int          n;
    json_t      *tok, *code, *data, *v;
    json_int_t   expires_in;
    char         buf[32];

    if (ngx_http_coze_auth_proto_get_logid(mem, root, &out->logid)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    tok = root;

    /* OpenAPI envelope: {"code":N,"msg":"..","data":{..}} */

    code = json_object_get(root, "code");

    if (json_is_integer(code)) {

        if (json_integer_value(code) != 0) {
            n = snprintf(buf, sizeof(buf), "%lld",
                         (long long) json_integer_value(code));

            if (n <= 0 || (size_t) n >= sizeof(buf)
                || ngx_http_coze_auth_proto_dup(mem, buf, n, &out->error_code)
                   != NGX_HTTP_COZE_AUTH_OK
                || ngx_http_coze_auth_proto_get_str(mem, root, "msg",
                                             NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                             &out->error_message)
                   != NGX_HTTP_COZE_AUTH_OK)
            {
                return NGX_HTTP_COZE_AUTH_ERROR;
            }

            return NGX_HTTP_COZE_AUTH_E_REMOTE;
        }

        data = json_object_get(root, "data");

        if (json_is_object(data)) {
            tok = data;
        }
    }

    /* OAuth errors: error_code/error_message or error/error_description */

    if (ngx_http_coze_auth_proto_get_id(mem, tok, "error_code",
                                        NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                        &out->error_code)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (out->error_code.len == 0
        && ngx_http_coze_auth_proto_get_id(mem, tok, "error",
                                           NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                           &out->error_code)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_get_str(mem, tok, "error_message",
                                         NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                         &out->error_message)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (out->error_message.len == 0
        && ngx_http_coze_auth_proto_get_str(mem, tok, "error_description",
                                            NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                            &out->error_message)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (out->error_code.len
        || (out->error_message.len
            && !ngx_http_coze_auth_proto_2xx(http_status)))
    {
        return NGX_HTTP_COZE_AUTH_E_REMOTE;
    }

    if (!ngx_http_coze_auth_proto_2xx(http_status)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    /* success */

    if (!json_is_string(json_object_get(tok, "access_token"))
        || ngx_http_coze_auth_proto_get_str(mem, tok, "access_token",
                                            NGX_HTTP_COZE_AUTH_PROTO_STRICT,
                                            &out->access_token)
           != NGX_HTTP_COZE_AUTH_OK
        || out->access_token.len == 0)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    v = json_object_get(tok, "expires_in");

    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    expires_in = json_integer_value(v);

    if (expires_in < NGX_HTTP_COZE_AUTH_EXPIRES_ABS_MIN) {
        /* a duration (mock servers, coze-go unit tests) */
        out->expires_at = now + (int64_t) expires_in;

    } else {
        out->expires_at = (int64_t) expires_in;
    }

    if (ngx_http_coze_auth_proto_get_str(mem, tok, "refresh_token",
                                         NGX_HTTP_COZE_AUTH_PROTO_STRICT,
                                         &out->refresh_token)
        != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_proto_get_str(mem, tok, "token_type",
                                            NGX_HTTP_COZE_AUTH_PROTO_STRICT,
                                            &out->token_type)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_parse_user(ngx_http_coze_auth_mem_t *mem,
    long http_status, const unsigned char *body, size_t len,
    ngx_http_coze_auth_user_t *out)
{
    int      rc;
    json_t  *root;

    memset(out, 0, sizeof(ngx_http_coze_auth_user_t));

    root = ngx_http_coze_auth_proto_load(body, len);
    if (root == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = ngx_http_coze_auth_proto_user(mem, http_status, root, out);

    json_decref(root);

    return rc;
}


static int
ngx_http_coze_auth_proto_user(ngx_http_coze_auth_mem_t *mem,
    long http_status, json_t *root, ngx_http_coze_auth_user_t *out)
{
    json_t      *code, *data;
    json_int_t   n;

    code = json_object_get(root, "code");

    if (code != NULL && !json_is_null(code)) {
        if (!json_is_integer(code)) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        n = json_integer_value(code);

        if (n < LONG_MIN || n > LONG_MAX) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        out->code = (long) n;
    }

    if (ngx_http_coze_auth_proto_get_str(mem, root, "msg",
                                         NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                         &out->msg)
        != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_proto_get_logid(mem, root, &out->logid)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (out->code != 0 || !ngx_http_coze_auth_proto_2xx(http_status)) {

        /* a gateway may answer in the OAuth error style */

        if (out->msg.len == 0
            && json_is_string(json_object_get(root, "error_message")))
        {
            (void) ngx_http_coze_auth_proto_get_str(mem, root,
                                             "error_message",
                                             NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                             &out->msg);
        }

        return NGX_HTTP_COZE_AUTH_E_REMOTE;
    }

    data = json_object_get(root, "data");

    if (!json_is_object(data)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_get_id(mem, data, "user_id",
                                        NGX_HTTP_COZE_AUTH_PROTO_STRICT,
                                        &out->user_id)
        != NGX_HTTP_COZE_AUTH_OK
        || out->user_id.len == 0)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ngx_http_coze_auth_proto_get_str(mem, data, "user_name",
                                         NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                         &out->user_name)
        != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_proto_get_str(mem, data, "nick_name",
                                            NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                            &out->nick_name)
           != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_proto_get_str(mem, data, "avatar_url",
                                            NGX_HTTP_COZE_AUTH_PROTO_SANITIZE,
                                            &out->avatar_url)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}

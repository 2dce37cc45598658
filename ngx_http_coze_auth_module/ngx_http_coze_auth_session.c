
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Cookies and request headers: reading and sealing the session and login
 * state cookies, Set-Cookie, stripping the module's cookies and setting
 * the token header before the request goes upstream.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_util.h"
#include "ngx_http_coze_auth_redis.h"


static ngx_int_t ngx_http_coze_auth_next_cookie(u_char **pos, u_char *end,
    ngx_str_t *name, ngx_str_t *value);
static ngx_table_elt_t *ngx_http_coze_auth_cookie_header(ngx_http_request_t *r,
    ngx_uint_t n);
static ngx_table_elt_t *ngx_http_coze_auth_header_remove(
    ngx_http_request_t *r, ngx_table_elt_t *h);
static ngx_int_t ngx_http_coze_auth_is_ours(ngx_http_coze_auth_cookie_conf_t
    *cc, ngx_str_t *name);
static ngx_int_t ngx_http_coze_auth_push_cookie(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, time_t max_age, ngx_str_t *attrs);
static uint32_t ngx_http_coze_auth_scache_hash(ngx_str_t *value);
static ngx_int_t ngx_http_coze_auth_scache_get(ngx_http_request_t *r,
    void *keyring, ngx_str_t *value, ngx_str_t *plain, size_t *key_index);
static void ngx_http_coze_auth_scache_put(ngx_http_request_t *r,
    void *keyring, ngx_str_t *value, ngx_str_t *plain, size_t key_index);
static ngx_int_t ngx_http_coze_auth_open_cookie(ngx_http_request_t *r,
    ngx_str_t *ad, ngx_str_t *value, ngx_str_t *plain, size_t *key_index);


/*
 * Sessions already opened by this worker, by cookie text: a browser sends
 * the same cookie for minutes, and a hit skips base64 and AES-GCM.  The
 * cookie's keyring is part of the key, the comparison is constant time,
 * and a request gets its own copy of the plaintext.
 */

#define NGX_HTTP_COZE_AUTH_SCACHE  64

typedef struct {
    void                           *keyring;
    uint32_t                        hash;
    size_t                          len;
    size_t                          plain_len;
    size_t                          key_index;
    u_char                          kid[NGX_HTTP_COZE_AUTH_KID_LEN];
    u_char                         *data;           /* cookie, plaintext */
} ngx_http_coze_auth_scache_t;

static ngx_http_coze_auth_scache_t
    ngx_http_coze_auth_scache[NGX_HTTP_COZE_AUTH_SCACHE];


static ngx_str_t  ngx_http_coze_auth_session_ad = ngx_string("session:");
static ngx_str_t  ngx_http_coze_auth_state_ad = ngx_string("state:");


/* splits "a=b; c=d" one pair at a time (memchr: this is the hot path) */

static ngx_int_t
ngx_http_coze_auth_next_cookie(u_char **pos, u_char *end, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *p, *semi, *eq;

    p = *pos;

    while (p < end && (*p == ' ' || *p == ';' || *p == '\t')) {
        p++;
    }

    if (p == end) {
        return NGX_DONE;
    }

    semi = memchr(p, ';', end - p);
    if (semi == NULL) {
        semi = end;
    }

    *pos = semi;

    eq = memchr(p, '=', semi - p);

    name->data = p;

    if (eq == NULL) {
        name->len = semi - p;
        value->data = semi;
        value->len = 0;

    } else {
        name->len = eq - p;
        value->data = eq + 1;
        value->len = semi - eq - 1;
    }

    while (name->len && name->data[name->len - 1] == ' ') {
        name->len--;
    }

    while (value->len && value->data[value->len - 1] == ' ') {
        value->len--;
    }

    return NGX_OK;
}


/* the n-th Cookie request header, whatever the nginx version */

static ngx_table_elt_t *
ngx_http_coze_auth_cookie_header(ngx_http_request_t *r, ngx_uint_t n)
{
#if (nginx_version >= 1023000)
    ngx_table_elt_t  *h;

    for (h = r->headers_in.cookie; h; h = h->next) {
        if (n-- == 0) {
            return h;
        }
    }

    return NULL;
#else
    ngx_table_elt_t  **h;

    if (n >= r->headers_in.cookies.nelts) {
        return NULL;
    }

    h = r->headers_in.cookies.elts;

    return h[n];
#endif
}


ngx_int_t
ngx_http_coze_auth_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char           *p, *end;
    ngx_str_t         n, v;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    for (i = 0; (h = ngx_http_coze_auth_cookie_header(r, i)); i++) {

        p = h->value.data;
        end = p + h->value.len;

        while (ngx_http_coze_auth_next_cookie(&p, end, &n, &v) == NGX_OK) {
            if (n.len == name->len
                && ngx_strncmp(n.data, name->data, n.len) == 0)
            {
                *value = v;
                return NGX_OK;
            }
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_coze_auth_scheme_secure(ngx_http_request_t *r)
{
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    return 0;
}


/*
 * Set-Cookie: name=value; Max-Age=N; Path=..; HttpOnly; SameSite=..[; Secure]
 * max_age 0 deletes the cookie.
 */

static ngx_int_t
ngx_http_coze_auth_push_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age, ngx_str_t *attrs)
{
    u_char                         *p;
    size_t                          len;
    ngx_uint_t                      secure;
    ngx_table_elt_t                *h;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    switch (alcf->cookie->secure) {
    case NGX_HTTP_COZE_AUTH_SECURE_ON:
        secure = 1;
        break;
    case NGX_HTTP_COZE_AUTH_SECURE_OFF:
        secure = 0;
        break;
    default:
        secure = ngx_http_coze_auth_scheme_secure(r);
    }

    len = name->len + 1 + value->len + sizeof("; Max-Age=") - 1
          + NGX_TIME_T_LEN + attrs->len + (secure ? sizeof("; Secure") : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_http_coze_auth_header_out(r, "Set-Cookie", p, 0);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '=';

    if (value->len) {
        /* a deletion has an empty value, whose data may be NULL */
        p = ngx_cpymem(p, value->data, value->len);
    }

    p = ngx_sprintf(p, "; Max-Age=%T", max_age);
    p = ngx_cpymem(p, attrs->data, attrs->len);

    if (secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    h->value.len = p - h->value.data;

    return NGX_OK;
}


/* adds a response header; value points to memory that outlives it */

ngx_table_elt_t *
ngx_http_coze_auth_header_out(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.len = ngx_strlen(key);
    h->key.data = (u_char *) key;
    h->value.len = len;
    h->value.data = value;

    return h;
}


/* deletes a login state cookie (set with the state attributes) */

ngx_int_t
ngx_http_coze_auth_state_clear(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_str_t                       empty;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_str_null(&empty);

    return ngx_http_coze_auth_push_cookie(r, name, &empty, 0,
                                          &alcf->cookie->state_attrs);
}


ngx_int_t
ngx_http_coze_auth_cookie_set(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age)
{
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    return ngx_http_coze_auth_push_cookie(r, name, value, max_age,
                                          &alcf->cookie->attrs);
}


static ngx_int_t
ngx_http_coze_auth_open_cookie(ngx_http_request_t *r, ngx_str_t *ad,
    ngx_str_t *value, ngx_str_t *plain, size_t *key_index)
{
    int                             rc;
    size_t                          len;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (value->len == 0 || value->len > NGX_HTTP_COZE_AUTH_MAX_COOKIE) {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    plain->data = ngx_pnalloc(r->pool, value->len);
    if (plain->data == NULL) {
        return NGX_ERROR;
    }

    len = value->len;

    rc = ngx_http_coze_auth_cookie_open(alcf->keyring->keys,
                                        alcf->keyring->nkeys,
                                        ad->data, ad->len,
                                        value->data, value->len,
                                        plain->data, &len, key_index);

    plain->len = (rc == NGX_HTTP_COZE_AUTH_OK) ? len : 0;

    return rc;
}


/* the tail is the GCM tag, random for every cookie: enough to hash */

static uint32_t
ngx_http_coze_auth_scache_hash(ngx_str_t *value)
{
    size_t  n;

    n = ngx_min(value->len, 32);

    return ngx_murmur_hash2(value->data + value->len - n, n);
}


static ngx_int_t
ngx_http_coze_auth_scache_get(ngx_http_request_t *r, void *keyring,
    ngx_str_t *value, ngx_str_t *plain, size_t *key_index)
{
    uint32_t                       hash;
    ngx_http_coze_auth_keyring_t  *ring = keyring;
    ngx_http_coze_auth_scache_t   *e;

    hash = ngx_http_coze_auth_scache_hash(value);
    e = &ngx_http_coze_auth_scache[hash % NGX_HTTP_COZE_AUTH_SCACHE];

    /* the key that opened it must still be there (reloads, rotation) */
    if (e->data == NULL
        || e->keyring != keyring
        || e->key_index >= ring->nkeys
        || ngx_memcmp(ring->keys[e->key_index].kid, e->kid,
                      NGX_HTTP_COZE_AUTH_KID_LEN) != 0
        || e->hash != hash
        || e->len != value->len
        || !ngx_http_coze_auth_memeq(e->data, value->data, value->len))
    {
        return NGX_DECLINED;
    }

    plain->data = ngx_pnalloc(r->pool, e->plain_len);
    if (plain->data == NULL) {
        return NGX_DECLINED;
    }

    ngx_memcpy(plain->data, e->data + e->len, e->plain_len);
    plain->len = e->plain_len;
    *key_index = e->key_index;

    return NGX_HTTP_COZE_AUTH_OK;
}


static void
ngx_http_coze_auth_scache_put(ngx_http_request_t *r, void *keyring,
    ngx_str_t *value, ngx_str_t *plain, size_t key_index)
{
    uint32_t                      hash;
    ngx_http_coze_auth_scache_t  *e;

    hash = ngx_http_coze_auth_scache_hash(value);
    e = &ngx_http_coze_auth_scache[hash % NGX_HTTP_COZE_AUTH_SCACHE];

    if (e->data) {
        ngx_http_coze_auth_cleanse(e->data, e->len + e->plain_len);
        ngx_free(e->data);
        e->data = NULL;
    }

    e->data = ngx_alloc(value->len + plain->len, r->connection->log);
    if (e->data == NULL) {
        return;
    }

    ngx_memcpy(ngx_cpymem(e->data, value->data, value->len), plain->data,
               plain->len);

    e->keyring = keyring;
    ngx_memcpy(e->kid,
               ((ngx_http_coze_auth_keyring_t *) keyring)->keys[key_index].kid,
               NGX_HTTP_COZE_AUTH_KID_LEN);
    e->hash = hash;
    e->len = value->len;
    e->plain_len = plain->len;
    e->key_index = key_index;
}


/* wipes and frees the cache: the process exits (the plaintexts hold tokens) */

void
ngx_http_coze_auth_scache_flush(void)
{
    ngx_uint_t                    i;
    ngx_http_coze_auth_scache_t  *e;

    for (i = 0; i < NGX_HTTP_COZE_AUTH_SCACHE; i++) {
        e = &ngx_http_coze_auth_scache[i];

        if (e->data) {
            ngx_http_coze_auth_cleanse(e->data, e->len + e->plain_len);
            ngx_free(e->data);
            e->data = NULL;
        }
    }
}


/*
 * Opens the session cookie into ctx->session.  A missing, tampered,
 * foreign or expired cookie is simply "no session": NGX_DECLINED with
 * ctx->result saying why.  NGX_BUSY: the sessions are in Redis and it is
 * unavailable (no telling whether there is a session).
 */

ngx_int_t
ngx_http_coze_auth_session_load(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                             rc;
    size_t                          key_index;
    ngx_str_t                       value, plain;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    if (ctx->session_checked) {
        if (ctx->has_session) {
            return NGX_OK;
        }

        return ctx->rs_state == NGX_HTTP_COZE_AUTH_RS_DOWN ? NGX_BUSY
                                                            : NGX_DECLINED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        return ngx_http_coze_auth_rsession_load(r, ctx);
    }

    ctx->session_checked = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_ANONYMOUS;

    if (alcf->keyring == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_coze_auth_cookie_get(r, &alcf->cookie->name, &value)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_coze_auth_scache_get(r, alcf->keyring, &value, &plain,
                                       &key_index);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_coze_auth_open_cookie(r, &ngx_http_coze_auth_session_ad,
                                            &value, &plain, &key_index);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_HTTP_COZE_AUTH_OK) {
            ngx_http_coze_auth_scache_put(r, alcf->keyring, &value, &plain,
                                          key_index);
        }
    }

    if (rc != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_session_decode(&ctx->session, plain.data,
                                             plain.len)
           != NGX_HTTP_COZE_AUTH_OK
        || ctx->session.access_token.len == 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: client sent an invalid session cookie "
                      "(%s)", rc == NGX_HTTP_COZE_AUTH_E_KEY
                              ? "unknown key" : "tampered or malformed");

        ngx_http_coze_auth_stat_inc(r,
                                 rc == NGX_HTTP_COZE_AUTH_E_KEY
                                 ? NGX_HTTP_COZE_AUTH_ST_SESSION_KEY
                                 : NGX_HTTP_COZE_AUTH_ST_SESSION_TAMPERED);

        ctx->result = NGX_HTTP_COZE_AUTH_R_INVALID;
        return NGX_DECLINED;
    }

    return ngx_http_coze_auth_session_check(r, ctx, key_index != 0);
}


/*
 * The opened session's lifetime and idle timeout; old_key: it was sealed
 * with an older key (re-seal it with the current one).
 */

ngx_int_t
ngx_http_coze_auth_session_check(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t old_key)
{
    time_t                          now;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    now = ngx_time();

    if (ctx->session.created + alcf->session_lifetime <= now
        || (alcf->idle_timeout
            && ctx->session.last_seen + alcf->idle_timeout <= now))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "coze auth: session lifetime or idle timeout over");

        ngx_http_coze_auth_stat_inc(r,
                    ctx->session.created + alcf->session_lifetime <= now
                    ? NGX_HTTP_COZE_AUTH_ST_SESSION_EXPIRED
                    : NGX_HTTP_COZE_AUTH_ST_SESSION_IDLE);

        ctx->result = NGX_HTTP_COZE_AUTH_R_EXPIRED;
        return NGX_DECLINED;
    }

    /*
     * sealed with an older key: re-seal with the current one; and keep
     * the idle clock roughly current without a Set-Cookie per request
     */
    if (old_key
        || (alcf->idle_timeout
            && now - ctx->session.last_seen > alcf->idle_timeout / 10))
    {
        ctx->reseal = 1;
    }

    ctx->has_session = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_OK;

    return NGX_OK;
}


/* seals ctx->session into a new session cookie */

ngx_int_t
ngx_http_coze_auth_session_store(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    size_t                          len;
    u_char                         *plain;
    ngx_int_t                       rc;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ctx->session.last_seen = ngx_time();

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        return ngx_http_coze_auth_rsession_save(r, ctx);
    }

    len = ngx_http_coze_auth_session_encoded_len(&ctx->session);

    plain = ngx_pnalloc(r->pool, len);
    if (plain == NULL) {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_session_encode(&ctx->session, plain);

    rc = ngx_http_coze_auth_session_cookie(r, ctx,
                                           &ngx_http_coze_auth_session_ad,
                                           plain, len);

    ngx_http_coze_auth_cleanse(plain, len);

    if (rc == NGX_OK) {
        ctx->reseal = 0;
    }

    return rc;
}


/*
 * Seals plain into the session cookie, which lives as long as the session:
 * the token set (cookie store) or the session id (redis store).
 */

ngx_int_t
ngx_http_coze_auth_session_cookie(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *ad, u_char *plain, size_t len)
{
    time_t                          max_age;
    ngx_str_t                       value;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    value.len = ngx_http_coze_auth_cookie_sealed_len(len);
    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_coze_auth_cookie_seal(&alcf->keyring->keys[0],
                                       ad->data, ad->len, plain, len,
                                       value.data, &value.len)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_ERROR;
    }

    if (value.len > NGX_HTTP_COZE_AUTH_MAX_COOKIE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: session cookie would be %uz bytes, "
                      "over the %d limit", value.len,
                      NGX_HTTP_COZE_AUTH_MAX_COOKIE);
        return NGX_ERROR;
    }

    max_age = ctx->session.created + alcf->session_lifetime - ngx_time();
    if (max_age < 1) {
        max_age = 1;
    }

    return ngx_http_coze_auth_cookie_set(r, &alcf->cookie->name, &value,
                                         max_age);
}


/*
 * Login state cookies: one per flow, named <session>_st_<state prefix>,
 * so that several tabs can log in at once; the oldest goes first.
 */

ngx_int_t
ngx_http_coze_auth_state_begin(ngx_http_request_t *r,
    ngx_http_coze_auth_state_t *st)
{
    u_char                          *p, *end, *plain;
    size_t                           len, out_len, key_index;
    int64_t                          oldest_time;
    ngx_str_t                        n, v, name, value, oldest, pt;
    ngx_uint_t                       i, count;
    ngx_table_elt_t                 *h;
    ngx_http_coze_auth_state_t       other;
    ngx_http_coze_auth_loc_conf_t   *alcf;
    ngx_http_coze_auth_cookie_conf_t  *cc;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);
    cc = alcf->cookie;

    count = 0;
    oldest_time = INT64_MAX;
    ngx_str_null(&oldest);

    for (i = 0; (h = ngx_http_coze_auth_cookie_header(r, i)); i++) {

        p = h->value.data;
        end = p + h->value.len;

        while (ngx_http_coze_auth_next_cookie(&p, end, &n, &v) == NGX_OK) {

            if (n.len <= cc->state_prefix.len
                || ngx_strncmp(n.data, cc->state_prefix.data,
                               cc->state_prefix.len) != 0)
            {
                continue;
            }

            count++;

            if (ngx_http_coze_auth_open_cookie(r,
                                               &ngx_http_coze_auth_state_ad,
                                               &v, &pt, &key_index)
                    != NGX_HTTP_COZE_AUTH_OK
                || ngx_http_coze_auth_state_decode(&other, pt.data, pt.len)
                   != NGX_HTTP_COZE_AUTH_OK)
            {
                other.created = 0;
            }

            if (other.created < oldest_time) {
                oldest_time = other.created;
                oldest = n;
            }
        }
    }

    if (count >= NGX_HTTP_COZE_AUTH_MAX_FLOWS && oldest.len) {
        ngx_str_null(&value);

        if (ngx_http_coze_auth_push_cookie(r, &oldest, &value, 0,
                                           &cc->state_attrs)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the name carries the first 12 characters of the (public) state */
    name.len = cc->state_prefix.len + 12;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(name.data, cc->state_prefix.data,
                          cc->state_prefix.len),
               st->state.data, 12);

    len = ngx_http_coze_auth_state_encoded_len(st);

    plain = ngx_pnalloc(r->pool, len);
    if (plain == NULL) {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_state_encode(st, plain);

    out_len = ngx_http_coze_auth_cookie_sealed_len(len);

    value.data = ngx_pnalloc(r->pool, out_len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_coze_auth_cookie_seal(&alcf->keyring->keys[0],
                                       ngx_http_coze_auth_state_ad.data,
                                       ngx_http_coze_auth_state_ad.len,
                                       plain, len, value.data, &out_len)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_cleanse(plain, len);

    value.len = out_len;

    return ngx_http_coze_auth_push_cookie(r, &name, &value,
                                          NGX_HTTP_COZE_AUTH_STATE_TTL,
                                          &cc->state_attrs);
}


/*
 * Finds and opens the state cookie of the flow that "state" names; the
 * full state is compared in constant time.
 */

ngx_int_t
ngx_http_coze_auth_state_find(ngx_http_request_t *r, ngx_str_t *state,
    ngx_http_coze_auth_state_t *st, ngx_str_t *cookie)
{
    size_t                             key_index;
    ngx_str_t                          value, pt;
    ngx_http_coze_auth_loc_conf_t     *alcf;
    ngx_http_coze_auth_cookie_conf_t  *cc;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);
    cc = alcf->cookie;

    if (state->len < 22 || state->len > 128) {
        return NGX_DECLINED;
    }

    cookie->len = cc->state_prefix.len + 12;
    cookie->data = ngx_pnalloc(r->pool, cookie->len);
    if (cookie->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(cookie->data, cc->state_prefix.data,
                          cc->state_prefix.len),
               state->data, 12);

    if (ngx_http_coze_auth_cookie_get(r, cookie, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_coze_auth_open_cookie(r, &ngx_http_coze_auth_state_ad,
                                       &value, &pt, &key_index)
            != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_state_decode(st, pt.data, pt.len)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: client sent an invalid state cookie");
        return NGX_DECLINED;
    }

    if (st->state.len != state->len
        || !ngx_http_coze_auth_memeq(st->state.data, state->data,
                                     state->len))
    {
        return NGX_DECLINED;
    }

    if (st->created + NGX_HTTP_COZE_AUTH_STATE_TTL <= ngx_time()) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_is_ours(ngx_http_coze_auth_cookie_conf_t *cc,
    ngx_str_t *name)
{
    if (name->len == cc->name.len
        && ngx_strncmp(name->data, cc->name.data, name->len) == 0)
    {
        return 1;
    }

    return name->len > cc->state_prefix.len
           && ngx_strncmp(name->data, cc->state_prefix.data,
                          cc->state_prefix.len) == 0;
}


/*
 * Removes a request header.  The last element of the list takes its
 * place, and every pointer nginx keeps to that element is moved along.
 * Returns the old address of the moved element.
 */

static ngx_table_elt_t *
ngx_http_coze_auth_header_remove(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_uint_t         i;
    ngx_list_part_t   *part, *last_part;
    ngx_table_elt_t   *last, **pp, *e;
    ngx_http_header_t *hh;
#if (nginx_version >= 1023000)
    ngx_table_elt_t  **link;
#else
    ngx_array_t       *a;
#endif

    last_part = r->headers_in.headers.last;

    if (last_part->nelts == 0) {
        /* the last part is empty only right after a new part was added */
        for (part = &r->headers_in.headers.part; part; part = part->next) {
            if (part->nelts) {
                last_part = part;
            }
        }
    }

    last = (ngx_table_elt_t *) last_part->elts + last_part->nelts - 1;

    /* unlink h from its own chain and the builtin pointer to it */

    for (hh = ngx_http_headers_in; hh->name.len; hh++) {
        pp = (ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset);

        if (*pp == h) {
#if (nginx_version >= 1023000)
            *pp = h->next;
#else
            *pp = NULL;
#endif
        }
    }

#if (nginx_version >= 1023000)
    part = &r->headers_in.headers.part;
    e = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            e = part->elts;
            i = 0;
        }

        if (e[i].next == h) {
            e[i].next = h->next;
        }
    }

    (void) link;
#else
    a = &r->headers_in.cookies;
    pp = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (pp[i] == h) {
            ngx_memmove(&pp[i], &pp[i + 1],
                        (a->nelts - i - 1) * sizeof(ngx_table_elt_t *));
            a->nelts--;
            break;
        }
    }
#endif

    if (h != last) {
        *h = *last;

        /* whatever pointed to the last element now points to h */

        for (hh = ngx_http_headers_in; hh->name.len; hh++) {
            pp = (ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset);

            if (*pp == last) {
                *pp = h;
            }
        }

#if (nginx_version >= 1023000)
        part = &r->headers_in.headers.part;
        e = part->elts;

        for (i = 0; /* void */; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                e = part->elts;
                i = 0;
            }

            if (e[i].next == last) {
                e[i].next = h;
            }
        }
#else
        pp = r->headers_in.cookies.elts;

        for (i = 0; i < r->headers_in.cookies.nelts; i++) {
            if (pp[i] == last) {
                pp[i] = h;
            }
        }

        pp = r->headers_in.x_forwarded_for.elts;

        for (i = 0; i < r->headers_in.x_forwarded_for.nelts; i++) {
            if (pp[i] == last) {
                pp[i] = h;
            }
        }
#endif
    }

    (void) e;
    last_part->nelts--;

    return last;
}


/* removes the module's cookies from the request before it goes upstream */

ngx_int_t
ngx_http_coze_auth_strip_cookies(ngx_http_request_t *r)
{
    u_char                          *p, *end, *out, *o;
    ngx_str_t                        n, v;
    ngx_uint_t                       i;
    ngx_table_elt_t                 *h;
    ngx_http_coze_auth_loc_conf_t   *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    i = 0;

    while ((h = ngx_http_coze_auth_cookie_header(r, i))) {

        /* one pass; a copy is made only once one of ours turns up */
        out = NULL;
        o = NULL;
        p = h->value.data;
        end = p + h->value.len;

        while (ngx_http_coze_auth_next_cookie(&p, end, &n, &v) == NGX_OK) {

            if (ngx_http_coze_auth_is_ours(alcf->cookie, &n)) {
                if (out == NULL) {
                    /*
                     * each pair kept is written back after "; ": pairs the
                     * client separated with a bare ";" grow by a byte
                     */
                    out = ngx_pnalloc(r->pool, 2 * h->value.len);
                    if (out == NULL) {
                        return NGX_ERROR;
                    }

                    /* the pairs before this one, as the client sent them */
                    o = ngx_cpymem(out, h->value.data, n.data - h->value.data);

                    while (o > out && (o[-1] == ' ' || o[-1] == ';')) {
                        o--;
                    }
                }

                continue;
            }

            if (out == NULL) {
                continue;
            }

            if (o != out) {
                *o++ = ';';
                *o++ = ' ';
            }

            o = ngx_cpymem(o, n.data, v.data + v.len - n.data);
        }

        if (out == NULL) {
            i++;
            continue;
        }

        if (o == out) {
            ngx_http_coze_auth_header_remove(r, h);
            /* the next header now has index i */
            continue;
        }

        h->value.data = out;
        h->value.len = o - out;
        i++;
    }

    return NGX_OK;
}


/* the first request header with this name, or NULL */

ngx_table_elt_t *
ngx_http_coze_auth_header_in(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


ngx_int_t
ngx_http_coze_auth_value_is(ngx_table_elt_t *h, const char *value)
{
    size_t  len;

    len = ngx_strlen(value);

    return h->value.len == len
           && ngx_strncasecmp(h->value.data, (u_char *) value, len) == 0;
}


/* sets a request header, replacing (never adding to) what the client sent */

ngx_int_t
ngx_http_coze_auth_set_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *header, *found;

    found = NULL;

    if (name->len == 0) {
        return NGX_OK;
    }

again:

    part = &r->headers_in.headers.part;
    header = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            header = part->elts;
            i = 0;
        }

        if (&header[i] == found
            || header[i].key.len != name->len
            || ngx_strncasecmp(header[i].key.data, name->data, name->len)
               != 0)
        {
            continue;
        }

        if (found == NULL) {
            found = &header[i];
            found->value = *value;
            continue;
        }

        /* a duplicate: remove it; elements moved, so scan again */
        if (ngx_http_coze_auth_header_remove(r, &header[i]) == found) {
            found = &header[i];
        }

        goto again;
    }

    if (found == NULL) {
        found = ngx_list_push(&r->headers_in.headers);
        if (found == NULL) {
            return NGX_ERROR;
        }

        found->key = *name;
        found->value = *value;

        found->lowcase_key = ngx_pnalloc(r->pool, name->len);
        if (found->lowcase_key == NULL) {
            return NGX_ERROR;
        }

        found->hash = ngx_hash_strlow(found->lowcase_key, name->data,
                                      name->len);
#if (nginx_version >= 1023000)
        found->next = NULL;
#endif
    }

    if (name->len == sizeof("Authorization") - 1
        && ngx_strncasecmp(name->data, (u_char *) "Authorization",
                           name->len) == 0)
    {
        r->headers_in.authorization = found;
    }

    return NGX_OK;
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Server-side sessions ("coze_auth_session_store redis").
 *
 * The cookie holds a random 256-bit session id sealed with the session
 * key (so a forged or foreign cookie is refused without asking Redis).
 * Redis holds the token set, sealed with the same key, under
 * "coze_auth:session:<hex SHA-256 of the id>" with a TTL equal to what is
 * left of the session lifetime; the additional data binds the value to
 * its key.  "coze_auth:user:<user id>" is the set of a user's sessions,
 * for revocation.
 *
 * Every request with a session cookie reads its record (one GET, in the
 * access phase, before anything needs the session): a session logged out
 * or revoked on any node ends at once everywhere.  Updates (refreshed
 * tokens, the idle clock, key rotation) are written without waiting, with
 * SET XX so that they never bring back a session that was just ended.
 * A login waits for its record to be written before the redirect.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_redis.h"
#include "ngx_http_coze_auth_util.h"


#define NGX_HTTP_COZE_AUTH_SID_LEN        32
#define NGX_HTTP_COZE_AUTH_SESSION_PREFIX "coze_auth:session:"
#define NGX_HTTP_COZE_AUTH_USER_PREFIX    "coze_auth:user:"
#define NGX_HTTP_COZE_AUTH_USER_ID_MAX    256

#define ngx_http_coze_auth_prefix_len(p)  (sizeof(p) - 1)


static ngx_int_t ngx_http_coze_auth_rs_send(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, int argc, const char **argv,
    const size_t *argvlen, ngx_http_coze_auth_step_pt next);
static void ngx_http_coze_auth_rs_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply);
static void ngx_http_coze_auth_rs_resume(ngx_event_t *ev);
static void ngx_http_coze_auth_rs_logged(void *data,
    ngx_http_coze_auth_redis_reply_t *reply);
static ngx_int_t ngx_http_coze_auth_rs_keys(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, u_char *id);
static ngx_int_t ngx_http_coze_auth_rs_user_key(ngx_http_request_t *r,
    ngx_str_t *user_id, ngx_str_t *key);
static ngx_int_t ngx_http_coze_auth_rs_seal(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *out);
static ngx_int_t ngx_http_coze_auth_rs_ad(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *ad);
static void ngx_http_coze_auth_revoke_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);


static ngx_str_t  ngx_http_coze_auth_sid_ad = ngx_string("sid:");


/* a new session, and its user's set: NX so that an id is never reused */
static const char  ngx_http_coze_auth_rs_create[] =
    "if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') "
    "then return 0 end "
    "redis.call('SADD', KEYS[2], ARGV[3]) "
    "if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then "
    "redis.call('EXPIRE', KEYS[2], ARGV[2]) end "
    "return 1";

static const char  ngx_http_coze_auth_rs_destroy[] =
    "redis.call('SREM', KEYS[2], ARGV[1]) "
    "return redis.call('DEL', KEYS[1])";

static const char  ngx_http_coze_auth_rs_revoke[] =
    "local m = redis.call('SMEMBERS', KEYS[1]) "
    "local n = 0 "
    "for i = 1, #m do n = n + redis.call('DEL', ARGV[1] .. m[i]) end "
    "redis.call('DEL', KEYS[1]) "
    "return n";


/* "coze_auth:session:<hex>" and the member <hex> from the raw id */

static ngx_int_t
ngx_http_coze_auth_rs_keys(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, u_char *id)
{
    u_char  *p, hash[32];

    ngx_memcpy(ctx->rs_id, id, NGX_HTTP_COZE_AUTH_SID_LEN);

    ngx_http_coze_auth_sha256(id, NGX_HTTP_COZE_AUTH_SID_LEN, hash);

    ctx->rs_key.len = ngx_http_coze_auth_prefix_len(
                          NGX_HTTP_COZE_AUTH_SESSION_PREFIX) + 64;
    ctx->rs_key.data = ngx_pnalloc(r->pool, ctx->rs_key.len);
    if (ctx->rs_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(ctx->rs_key.data, NGX_HTTP_COZE_AUTH_SESSION_PREFIX,
                   ngx_http_coze_auth_prefix_len(
                       NGX_HTTP_COZE_AUTH_SESSION_PREFIX));
    ngx_hex_dump(p, hash, sizeof(hash));

    ctx->rs_member.data = p;
    ctx->rs_member.len = 64;

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_rs_user_key(ngx_http_request_t *r, ngx_str_t *user_id,
    ngx_str_t *key)
{
    u_char  *p;

    key->len = ngx_http_coze_auth_prefix_len(NGX_HTTP_COZE_AUTH_USER_PREFIX)
               + user_id->len;
    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, NGX_HTTP_COZE_AUTH_USER_PREFIX,
                   ngx_http_coze_auth_prefix_len(
                       NGX_HTTP_COZE_AUTH_USER_PREFIX));

    if (user_id->len) {
        ngx_memcpy(p, user_id->data, user_id->len);
    }

    return NGX_OK;
}


/* a record is bound to its own key: it cannot be moved to another id */

static ngx_int_t
ngx_http_coze_auth_rs_ad(ngx_http_request_t *r, ngx_http_coze_auth_ctx_t *ctx,
    ngx_str_t *ad)
{
    ad->len = sizeof("rsession:") - 1 + ctx->rs_member.len;
    ad->data = ngx_pnalloc(r->pool, ad->len);
    if (ad->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(ad->data, "rsession:", sizeof("rsession:") - 1),
               ctx->rs_member.data, ctx->rs_member.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_rs_seal(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *out)
{
    int                             rc;
    size_t                          len;
    u_char                         *plain;
    ngx_str_t                       ad;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (ngx_http_coze_auth_rs_ad(r, ctx, &ad) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_http_coze_auth_session_encoded_len(&ctx->session);
    if (len == 0) {
        return NGX_ERROR;
    }

    plain = ngx_pnalloc(r->pool, len);
    out->data = ngx_pnalloc(r->pool, len + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD);
    if (plain == NULL || out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_session_encode(&ctx->session, plain);

    out->len = len + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD;

    rc = ngx_http_coze_auth_seal(&alcf->keyring->keys[0], ad.data, ad.len,
                                 plain, len, out->data, &out->len);

    ngx_http_coze_auth_cleanse(plain, len);

    return rc == NGX_HTTP_COZE_AUTH_OK ? NGX_OK : NGX_ERROR;
}


/*
 * Sends a command whose answer the request waits for; "next" runs in the
 * request's context with ctx->rs_state DONE (rs_found, rs_value,
 * rs_integer) or DOWN.  NGX_BUSY: Redis is unavailable right now.
 */

static ngx_int_t
ngx_http_coze_auth_rs_send(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, int argc, const char **argv,
    const size_t *argvlen, ngx_http_coze_auth_step_pt next)
{
    void  *cmd;

    cmd = ngx_http_coze_auth_redis_command_queued(ctx->amcf,
                                                  ngx_http_coze_auth_rs_reply,
                                                  ctx, argc, argv, argvlen);
    if (cmd == NULL) {
        ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DOWN;
        return NGX_BUSY;
    }

    ctx->rs_cmd = cmd;
    ctx->rs_next = next;
    ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_PENDING;
    ctx->rs_found = 0;
    ctx->rs_value.len = 0;
    ctx->rs_integer = 0;

    return NGX_AGAIN;
}


/* runs inside hiredis: copy what is needed and leave its stack */

static void
ngx_http_coze_auth_rs_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply)
{
    ngx_http_coze_auth_ctx_t *ctx = data;

    ngx_http_request_t  *r;

    r = ctx->request;
    ctx->rs_cmd = NULL;
    ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DONE;

    if (reply == NULL) {
        ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DOWN;

    } else {
        switch (reply->type) {

        case NGX_HTTP_COZE_AUTH_REDIS_STRING:
            ctx->rs_value.data = ngx_pnalloc(r->pool, reply->str.len + 1);
            if (ctx->rs_value.data == NULL) {
                ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DOWN;
                break;
            }

            ngx_memcpy(ctx->rs_value.data, reply->str.data, reply->str.len);
            ctx->rs_value.len = reply->str.len;
            ctx->rs_found = 1;
            break;

        case NGX_HTTP_COZE_AUTH_REDIS_INTEGER:
            ctx->rs_integer = reply->integer;
            ctx->rs_found = reply->integer > 0;
            break;

        case NGX_HTTP_COZE_AUTH_REDIS_STATUS:
            ctx->rs_found = 1;
            break;

        case NGX_HTTP_COZE_AUTH_REDIS_NIL:
            break;

        default:
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "coze auth: redis refused a session command: %V",
                          &reply->str);
            ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DOWN;
        }
    }

    ctx->rs_event.handler = ngx_http_coze_auth_rs_resume;
    ctx->rs_event.data = ctx;
    ctx->rs_event.log = r->connection->log;

    ngx_post_event(&ctx->rs_event, &ngx_posted_events);
}


static void
ngx_http_coze_auth_rs_resume(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_coze_auth_ctx_t    *ctx;
    ngx_http_coze_auth_step_pt   next;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (ctx->rs_state == NGX_HTTP_COZE_AUTH_RS_DOWN) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "coze auth: the session store (redis) did not answer");
    }

    next = ctx->rs_next;
    ctx->rs_next = NULL;

    next(r, ctx);

    ngx_http_run_posted_requests(c);
}


/* answers of writes nobody waits for */

static void
ngx_http_coze_auth_rs_logged(void *data,
    ngx_http_coze_auth_redis_reply_t *reply)
{
    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: a session update was not written to "
                      "redis (no answer)");

    } else if (reply->type == NGX_HTTP_COZE_AUTH_REDIS_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: a session update was not written to "
                      "redis: %V", &reply->str);
    }
}


/*
 * Access phase: reads the session record named by the cookie.  NGX_AGAIN
 * while Redis answers (the phases run again then); afterwards
 * ngx_http_coze_auth_rsession_load() has what it needs.
 */

ngx_int_t
ngx_http_coze_auth_rsession_fetch(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                             rc;
    size_t                          len, key_index;
    u_char                          id[NGX_HTTP_COZE_AUTH_SID_LEN
                                       + NGX_HTTP_COZE_AUTH_MAX_COOKIE];
    ngx_str_t                       value;
    const char                     *argv[2];
    size_t                          argvlen[2];
    ngx_http_coze_auth_loc_conf_t  *alcf;

    if (ctx->rs_state != NGX_HTTP_COZE_AUTH_RS_NEW) {
        return NGX_OK;
    }

    ctx->rs_state = NGX_HTTP_COZE_AUTH_RS_DONE;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->keyring == NULL
        || ngx_http_coze_auth_cookie_get(r, &alcf->cookie->name, &value)
           != NGX_OK)
    {
        return NGX_OK;
    }

    if (value.len == 0 || value.len > NGX_HTTP_COZE_AUTH_MAX_COOKIE) {
        ctx->rs_invalid = 1;
        return NGX_OK;
    }

    len = sizeof(id);

    rc = ngx_http_coze_auth_cookie_open(alcf->keyring->keys,
                                        alcf->keyring->nkeys,
                                        ngx_http_coze_auth_sid_ad.data,
                                        ngx_http_coze_auth_sid_ad.len,
                                        value.data, value.len, id, &len,
                                        &key_index);

    if (rc != NGX_HTTP_COZE_AUTH_OK || len != NGX_HTTP_COZE_AUTH_SID_LEN) {
        ctx->rs_invalid = 1;
        ctx->rs_key_error = (rc == NGX_HTTP_COZE_AUTH_E_KEY);
        return NGX_OK;
    }

    ctx->rs_old_key = (key_index != 0);

    rc = ngx_http_coze_auth_rs_keys(r, ctx, id);

    ngx_http_coze_auth_cleanse(id, sizeof(id));

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->rs_key.data;
    argvlen[1] = ctx->rs_key.len;

    rc = ngx_http_coze_auth_rs_send(r, ctx, 2, argv, argvlen,
                                    ngx_http_coze_auth_run_phases);

    if (rc == NGX_AGAIN) {
        ctx->waiting = 1;
    }

    return rc == NGX_AGAIN ? NGX_AGAIN : NGX_OK;
}


/*
 * What ngx_http_coze_auth_session_load() does in redis mode, from what
 * the access phase fetched.  Where nothing was fetched (a location that
 * does not authenticate) there is no session, and nothing is decided.
 */

ngx_int_t
ngx_http_coze_auth_rsession_load(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                             rc;
    size_t                          n, key_index;
    ngx_str_t                       ad, plain;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    switch (ctx->rs_state) {

    case NGX_HTTP_COZE_AUTH_RS_NEW:
    case NGX_HTTP_COZE_AUTH_RS_PENDING:
        return NGX_DECLINED;

    case NGX_HTTP_COZE_AUTH_RS_DOWN:
        ctx->session_checked = 1;
        ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;
        return NGX_BUSY;

    default:
        break;
    }

    ctx->session_checked = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_ANONYMOUS;

    if (ctx->rs_invalid) {
        goto invalid;
    }

    if (ctx->rs_key.len == 0) {
        return NGX_DECLINED;
    }

    if (!ctx->rs_found) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: the session has ended (signed out, "
                      "revoked or expired)");

        ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_SESSION_ENDED);

        ctx->result = NGX_HTTP_COZE_AUTH_R_EXPIRED;
        return NGX_DECLINED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (ngx_http_coze_auth_rs_ad(r, ctx, &ad) != NGX_OK) {
        return NGX_ERROR;
    }

    plain.data = ngx_pnalloc(r->pool, ctx->rs_value.len);
    if (plain.data == NULL) {
        return NGX_ERROR;
    }

    n = ctx->rs_value.len;

    rc = ngx_http_coze_auth_open(alcf->keyring->keys, alcf->keyring->nkeys,
                                 ad.data, ad.len, ctx->rs_value.data,
                                 ctx->rs_value.len, plain.data, &n,
                                 &key_index);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        ctx->rs_key_error = (rc == NGX_HTTP_COZE_AUTH_E_KEY);
        goto invalid;
    }

    plain.len = n;

    if (ngx_http_coze_auth_session_decode(&ctx->session, plain.data,
                                          plain.len)
            != NGX_HTTP_COZE_AUTH_OK
        || ctx->session.access_token.len == 0)
    {
        goto invalid;
    }

    /* the id cookie or the record sealed with an older key */
    return ngx_http_coze_auth_session_check(r, ctx,
                                            ctx->rs_old_key || key_index != 0);

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "coze auth: client sent an invalid session cookie (%s)",
                  ctx->rs_key_error ? "unknown key" : "tampered or malformed");

    ngx_http_coze_auth_stat_inc(r, ctx->rs_key_error
                                   ? NGX_HTTP_COZE_AUTH_ST_SESSION_KEY
                                   : NGX_HTTP_COZE_AUTH_ST_SESSION_TAMPERED);

    ctx->result = NGX_HTTP_COZE_AUTH_R_INVALID;

    return NGX_DECLINED;
}


/* sets the cookie that names the session: the sealed id */

static ngx_int_t
ngx_http_coze_auth_rs_cookie(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ctx->rs_old_key = 0;

    return ngx_http_coze_auth_session_cookie(r, ctx,
                                             &ngx_http_coze_auth_sid_ad,
                                             ctx->rs_id,
                                             NGX_HTTP_COZE_AUTH_SID_LEN);
}


/*
 * Writes ctx->session back (refreshed tokens, idle clock, a new key)
 * without waiting: the request goes on with the tokens it has.
 */

ngx_int_t
ngx_http_coze_auth_rsession_save(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    u_char                          ttl[NGX_TIME_T_LEN];
    time_t                          left;
    ngx_str_t                       value;
    const char                     *argv[6];
    size_t                          argvlen[6];
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ctx->reseal = 0;

    if (ctx->rs_key.len == 0) {
        return NGX_OK;
    }

    left = ctx->session.created + alcf->session_lifetime - ngx_time();
    if (left < 1) {
        left = 1;
    }

    if (ngx_http_coze_auth_rs_seal(r, ctx, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->rs_key.data;
    argvlen[1] = ctx->rs_key.len;
    argv[2] = (const char *) value.data;
    argvlen[2] = value.len;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%T", left) - ttl;
    argv[5] = "XX";
    argvlen[5] = 2;

    if (ngx_http_coze_auth_redis_command_queued(ctx->amcf,
                                                ngx_http_coze_auth_rs_logged,
                                                NULL, 6, argv, argvlen)
        == NULL)
    {
        ngx_http_coze_auth_rs_logged(NULL, NULL);
    }

    if (ctx->rs_old_key) {
        return ngx_http_coze_auth_rs_cookie(r, ctx);
    }

    return NGX_OK;
}


/*
 * A login: a new id, its record and the user's set.  NGX_AGAIN: "next"
 * runs when Redis has answered, then ngx_http_coze_auth_rsession_created()
 * says whether it worked; NGX_BUSY: Redis is unavailable.
 */

ngx_int_t
ngx_http_coze_auth_rsession_create(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_step_pt next)
{
    u_char                          id[NGX_HTTP_COZE_AUTH_SID_LEN];
    u_char                          ttl[NGX_TIME_T_LEN];
    ngx_str_t                       value, user, user_key;
    const char                     *argv[8];
    size_t                          argvlen[8];
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (ngx_http_coze_auth_random(id, sizeof(id)) != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_rs_keys(r, ctx, id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_cleanse(id, sizeof(id));

    user.len = ctx->session.user_id.len;
    user.data = ctx->session.user_id.data;

    if (ngx_http_coze_auth_rs_user_key(r, &user, &user_key) != NGX_OK
        || ngx_http_coze_auth_rs_seal(r, ctx, &value) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_redis_script(argv, argvlen,
                                    ngx_http_coze_auth_rs_create,
                                    sizeof(ngx_http_coze_auth_rs_create) - 1,
                                    "2");
    argv[3] = (const char *) ctx->rs_key.data;
    argvlen[3] = ctx->rs_key.len;
    argv[4] = (const char *) user_key.data;
    argvlen[4] = user_key.len;
    argv[5] = (const char *) value.data;
    argvlen[5] = value.len;
    argv[6] = (const char *) ttl;
    argvlen[6] = ngx_sprintf(ttl, "%T", alcf->session_lifetime) - ttl;
    argv[7] = (const char *) ctx->rs_member.data;
    argvlen[7] = ctx->rs_member.len;

    return ngx_http_coze_auth_rs_send(r, ctx, 8, argv, argvlen, next);
}


/* after ngx_http_coze_auth_rsession_create(): the record is written */

ngx_int_t
ngx_http_coze_auth_rsession_created(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    if (ctx->rs_state != NGX_HTTP_COZE_AUTH_RS_DONE || !ctx->rs_found) {
        return NGX_BUSY;
    }

    return ngx_http_coze_auth_rs_cookie(r, ctx) == NGX_OK ? NGX_OK
                                                           : NGX_ERROR;
}


/*
 * Ends the session the cookie names, on every node.  "next" NULL: nobody
 * waits (a session found dead).  NGX_DECLINED: there is nothing to end;
 * NGX_AGAIN: "next" runs when Redis has answered; NGX_BUSY: Redis is
 * unavailable.
 */

ngx_int_t
ngx_http_coze_auth_rsession_destroy(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_step_pt next)
{
    ngx_str_t    user, user_key;
    const char  *argv[6];
    size_t       argvlen[6];

    if (ctx->rs_key.len == 0) {
        return NGX_DECLINED;
    }

    /* a session that was not read (Redis down) has no known user */
    user.len = ctx->session.user_id.len;
    user.data = ctx->session.user_id.data;

    if (ngx_http_coze_auth_rs_user_key(r, &user, &user_key) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_coze_auth_redis_script(argv, argvlen,
                                    ngx_http_coze_auth_rs_destroy,
                                    sizeof(ngx_http_coze_auth_rs_destroy) - 1,
                                    "2");
    argv[3] = (const char *) ctx->rs_key.data;
    argvlen[3] = ctx->rs_key.len;
    argv[4] = (const char *) user_key.data;
    argvlen[4] = user_key.len;
    argv[5] = (const char *) ctx->rs_member.data;
    argvlen[5] = ctx->rs_member.len;

    if (next == NULL) {
        if (ngx_http_coze_auth_redis_command_queued(ctx->amcf,
                                                ngx_http_coze_auth_rs_logged,
                                                NULL, 6, argv, argvlen)
            == NULL)
        {
            ngx_http_coze_auth_rs_logged(NULL, NULL);
        }

        ctx->rs_key.len = 0;
        return NGX_DECLINED;
    }

    return ngx_http_coze_auth_rs_send(r, ctx, 6, argv, argvlen, next);
}


/* 503 for a session that cannot be read or written right now */

ngx_int_t
ngx_http_coze_auth_rsession_unavailable(ngx_http_request_t *r)
{
    ngx_str_t  text;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_header_out(r, "Retry-After", (u_char *) "5", 1)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_STORE_DOWN);

    ngx_str_set(&text, "Sessions are temporarily unavailable. Please try "
                "again in a moment.");

    return ngx_http_coze_auth_error_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "session_store_unavailable", &text);
}


/*
 * coze_auth_revoke: POST or DELETE ...?user_id=ID ends every server-side
 * session of that user, on every node.
 */

ngx_int_t
ngx_http_coze_auth_revoke_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  user, user_key, text;
    const char                *argv[5];
    size_t                     argvlen[5];
    ngx_http_coze_auth_ctx_t  *ctx;

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_coze_auth_query(r, "user_id", &user);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (user.len == 0 || user.len > NGX_HTTP_COZE_AUTH_USER_ID_MAX) {
        ngx_str_set(&text, "A user_id query argument is required.");
        return ngx_http_coze_auth_error_page(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request", &text);
    }

    if (ngx_http_coze_auth_rs_user_key(r, &user, &user_key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->rs_user = user;

    ngx_http_coze_auth_redis_script(argv, argvlen,
                                    ngx_http_coze_auth_rs_revoke,
                                    sizeof(ngx_http_coze_auth_rs_revoke) - 1,
                                    "1");
    argv[3] = (const char *) user_key.data;
    argvlen[3] = user_key.len;
    argv[4] = NGX_HTTP_COZE_AUTH_SESSION_PREFIX;
    argvlen[4] = ngx_http_coze_auth_prefix_len(
                     NGX_HTTP_COZE_AUTH_SESSION_PREFIX);

    rc = ngx_http_coze_auth_rs_send(r, ctx, 5, argv, argvlen,
                                    ngx_http_coze_auth_revoke_done);

    if (rc == NGX_BUSY) {
        return ngx_http_coze_auth_rsession_unavailable(r);
    }

    if (rc != NGX_AGAIN) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_coze_auth_revoke_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    u_char     *p;
    size_t      len;
    ngx_buf_t  *b;
    ngx_str_t   type, shown;

    if (ctx->rs_state != NGX_HTTP_COZE_AUTH_RS_DONE) {
        ngx_http_finalize_request(r,
                                  ngx_http_coze_auth_rsession_unavailable(r));
        return;
    }

    shown.len = ctx->rs_user.len;
    shown.data = ngx_pnalloc(r->pool, shown.len);
    if (shown.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(shown.data, ctx->rs_user.data, shown.len);
    ngx_http_coze_auth_log_safe(&shown);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "coze auth: revoked %L session(s) of user \"%V\"",
                  ctx->rs_integer, &shown);

    if (ctx->rs_integer > 0 && ctx->amcf->sh) {
        (void) ngx_atomic_fetch_add(
                   &ctx->amcf->sh->counters[NGX_HTTP_COZE_AUTH_ST_REVOKED],
                   (ngx_atomic_int_t) ctx->rs_integer);
    }

    len = sizeof("{\"user_id\":\"\",\"revoked\":}\n") - 1 + NGX_INT64_LEN
          + ngx_http_coze_auth_json_escape(NULL, ctx->rs_user.data,
                                           ctx->rs_user.len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(b->last, "{\"user_id\":\"", sizeof("{\"user_id\":\"") - 1);
    p += ngx_http_coze_auth_json_escape(p, ctx->rs_user.data,
                                        ctx->rs_user.len);
    p = ngx_sprintf(p, "\",\"revoked\":%L}\n", ctx->rs_integer);
    b->last = p;

    ngx_str_set(&type, "application/json");

    ngx_http_finalize_request(r, ngx_http_coze_auth_send(r, NGX_HTTP_OK,
                                                         &type, b));
}

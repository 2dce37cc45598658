
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Refreshing a session's access token before it expires.
 *
 * Coze refresh tokens work once.  The first request that needs a refresh
 * locks a record in the shared zone keyed by a hash of the old refresh
 * token and starts a task; every request of that session, in any worker
 * and including the first, waits for the record and takes its outcome:
 * new tokens (sealed, kept for coze_auth_refresh_result_ttl so that late
 * requests with the old cookie get them too), "refused" (the session is
 * over) or "retry" (a passing failure: the current token serves on).
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_redis.h"


static ngx_int_t ngx_http_coze_auth_refresh_start(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_refresh_done(ngx_http_coze_auth_task_t *t);
static ngx_int_t ngx_http_coze_auth_refresh_shared(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_rec_value_t *v);
static ngx_int_t ngx_http_coze_auth_refresh_transient(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);


/*
 * NGX_OK: the current token can be used; NGX_AGAIN: waiting for the
 * refresh; NGX_DECLINED: the session is over; else an HTTP status.
 */

ngx_int_t
ngx_http_coze_auth_refresh(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    time_t                          now;
    ngx_int_t                       rc;
    ngx_str_t                       rt;
    ngx_http_coze_auth_session_t   *s;
    ngx_http_coze_auth_loc_conf_t  *alcf;
    ngx_http_coze_auth_rec_value_t  v;
    u_char                          buf[NGX_HTTP_COZE_AUTH_REC_MAX];

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    now = ngx_time();
    s = &ctx->session;

    if (ctx->refreshed
        || (s->expires - alcf->refresh_ahead > now && !ctx->force_refresh))
    {
        return NGX_OK;
    }

    if (s->refresh_token.len == 0) {
        if (s->expires > now) {
            return NGX_OK;
        }

        ctx->result = NGX_HTTP_COZE_AUTH_R_EXPIRED;
        return NGX_DECLINED;
    }

    if (ctx->wait_timed_out) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "coze auth: the refresh did not finish in time");
        return ngx_http_coze_auth_refresh_transient(r, ctx);
    }

    rt.len = s->refresh_token.len;
    rt.data = s->refresh_token.data;

    ngx_http_coze_auth_store_key(ctx->hash, "refresh", &rt, NULL);

    ngx_memzero(&v, sizeof(ngx_http_coze_auth_rec_value_t));
    v.data = buf;
    v.size = sizeof(buf);

    rc = ngx_http_coze_auth_store_get(ctx->amcf, ctx->hash, &v, 1,
                                      alcf->timeout / 1000 + 5);

    if (rc == NGX_BUSY) {
        return ngx_http_coze_auth_wait(r, ctx);
    }

    if (rc == NGX_OK) {
        return ngx_http_coze_auth_refresh_shared(r, ctx, &v);
    }

    if (ctx->amcf->sh == NULL) {
        return ngx_http_coze_auth_refresh_transient(r, ctx);
    }

    /* locked for us: start the refresh, then wait like everyone else */
    rc = ngx_http_coze_auth_refresh_start(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_coze_auth_store_unlock(ctx->amcf, ctx->hash);
        return ngx_http_coze_auth_refresh_transient(r, ctx);
    }

    ctx->initiated = 1;

    return ngx_http_coze_auth_wait(r, ctx);
}


static ngx_int_t
ngx_http_coze_auth_refresh_start(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       body, secret, *bearer;
    ngx_http_coze_auth_str_t        out;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_task_t      *t;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_http_coze_auth_mem_init(&mem, r->pool);

    if (ngx_http_coze_auth_refresh_request(&mem,
                                    ngx_http_coze_auth_str(&alcf->client_id),
                                    &ctx->session.refresh_token, &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_ERROR;
    }

    body.len = out.len;
    body.data = out.data;

    if (alcf->client_type == NGX_HTTP_COZE_AUTH_WEB) {
        secret = alcf->client_secret;
        bearer = &secret;

    } else {
        bearer = NULL;
    }

    t = ngx_http_coze_auth_task_create(r, ctx,
                                       NGX_HTTP_COZE_AUTH_CALL_REFRESH);
    if (t == NULL) {
        return NGX_ERROR;
    }

    /* a refresh token works once: never let libcurl send it twice */
    t->xfer.fresh = 1;

    /* with Redis, one node of all calls Coze (redis.c) */
    rc = ngx_http_coze_auth_redis_refresh(t, &alcf->token_url, &body, bearer,
                                          ngx_http_coze_auth_refresh_done);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_coze_auth_task_start(t, &alcf->token_url, &body,
                                           bearer,
                                           ngx_http_coze_auth_refresh_done);
    }

    if (rc != NGX_OK) {
        ngx_http_coze_auth_task_abort(t);
        return NGX_ERROR;
    }

    ngx_http_coze_auth_cleanse(body.data, body.len);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: refreshing the access token");

    return NGX_OK;
}


/* the task's outcome goes into the shared zone; it never sees a request */

static void
ngx_http_coze_auth_refresh_done(ngx_http_coze_auth_task_t *t)
{
    int                            rc;
    size_t                         len, out_len;
    u_char                        *plain;
    time_t                         keep;
    ngx_str_t                      id;
    ngx_uint_t                     state;
    ngx_http_coze_auth_mem_t       mem;
    ngx_http_coze_auth_token_t     tok;
    ngx_http_coze_auth_xfer_t     *x;
    ngx_http_coze_auth_session_t   fresh;
    u_char                         out[NGX_HTTP_COZE_AUTH_REC_MAX];

    x = &t->xfer;

    state = NGX_HTTP_COZE_AUTH_REC_RETRY;
    keep = 5;

    ngx_http_coze_auth_mem_init(&mem, t->pool);
    ngx_memzero(&tok, sizeof(ngx_http_coze_auth_token_t));

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK || x->status >= 500
        || x->status == NGX_HTTP_TOO_MANY_REQUESTS
        || x->status == NGX_HTTP_REQUEST_TIME_OUT)
    {
        /* a timeout, reset, 5xx or 429 proves nothing about the token */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: refresh failed (%s, HTTP %ui), the "
                      "session keeps its token, retried in %T s, logid "
                      "\"%V\", request_id %V",
                      ngx_http_coze_auth_xfer_result(x->result), x->status,
                      keep, &x->logid, &t->request_id);
        goto publish;
    }

    rc = ngx_http_coze_auth_parse_token(&mem, (long) x->status,
                                        x->response.data, x->response.len,
                                        (int64_t) ngx_time(), &tok);

    id = x->logid;

    if (id.len == 0) {
        id.len = tok.logid.len;
        id.data = tok.logid.data;
    }

    if (rc == NGX_HTTP_COZE_AUTH_E_REMOTE) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: refresh refused, the session ends: HTTP "
                      "%ui, Coze error \"%*s\" \"%*s\", logid \"%V\", "
                      "request_id %V", x->status, tok.error_code.len,
                      tok.error_code.data, tok.error_message.len,
                      tok.error_message.data, &id, &t->request_id);

        ngx_http_coze_auth_stat_add(t->amcf,
                                    NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_DEAD);

        state = NGX_HTTP_COZE_AUTH_REC_DEAD;
        keep = t->alcf->refresh_result_ttl;
        goto publish;
    }

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "coze auth: refresh: invalid response from Coze, "
                      "HTTP %ui, logid \"%V\", request_id %V", x->status,
                      &id, &t->request_id);
        goto publish;
    }

    ngx_memzero(&fresh, sizeof(ngx_http_coze_auth_session_t));
    fresh.access_token = tok.access_token;
    fresh.refresh_token = tok.refresh_token;
    fresh.expires = tok.expires_at;

    len = ngx_http_coze_auth_session_encoded_len(&fresh);

    plain = ngx_pnalloc(t->pool, len);
    if (plain == NULL || len == 0) {
        goto publish;
    }

    ngx_http_coze_auth_session_encode(&fresh, plain);

    out_len = sizeof(out);

    rc = ngx_http_coze_auth_seal_value(t->alcf, "refresh", plain, len, out,
                                       &out_len);

    ngx_http_coze_auth_cleanse(plain, len);

    if (rc != NGX_OK) {
        goto publish;
    }

    ngx_http_coze_auth_redis_refresh_publish(t, NGX_HTTP_COZE_AUTH_REC_VALUE,
                                            out, out_len, fresh.expires,
                                            t->alcf->refresh_result_ttl);

    if (ngx_http_coze_auth_store_put(t->amcf, t->hash,
                                     NGX_HTTP_COZE_AUTH_REC_VALUE, out,
                                     out_len, fresh.expires,
                                     t->alcf->refresh_result_ttl)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: no room in the shared zone for a refresh "
                      "result");
        ngx_http_coze_auth_store_unlock(t->amcf, t->hash);
    }

    ngx_http_coze_auth_stat_add(t->amcf, NGX_HTTP_COZE_AUTH_ST_REFRESH_DONE);

    ngx_http_coze_auth_cleanse(tok.refresh_token.data, tok.refresh_token.len);
    ngx_http_coze_auth_cleanse(tok.access_token.data, tok.access_token.len);

    return;

publish:

    if (state == NGX_HTTP_COZE_AUTH_REC_RETRY) {
        ngx_http_coze_auth_stat_add(t->amcf,
                                    NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_TEMP);
    }

    ngx_http_coze_auth_redis_refresh_publish(t, state, NULL, 0, 0, keep);

    if (ngx_http_coze_auth_store_put(t->amcf, t->hash, state, NULL, 0, 0,
                                     keep)
        != NGX_OK)
    {
        ngx_http_coze_auth_store_unlock(t->amcf, t->hash);
    }
}


/* takes the outcome of the refresh of this session */

static ngx_int_t
ngx_http_coze_auth_refresh_shared(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_rec_value_t *v)
{
    ngx_str_t                      plain;
    ngx_http_coze_auth_session_t   fresh, *s;

    s = &ctx->session;

    if (v->state == NGX_HTTP_COZE_AUTH_REC_DEAD) {
        ctx->result = NGX_HTTP_COZE_AUTH_R_EXPIRED;
        return NGX_DECLINED;
    }

    if (v->state == NGX_HTTP_COZE_AUTH_REC_RETRY) {
        return ngx_http_coze_auth_refresh_transient(r, ctx);
    }

    if (ngx_http_coze_auth_open_value(r, "refresh", v->data, v->len, &plain)
            != NGX_OK
        || ngx_http_coze_auth_session_decode(&fresh, plain.data, plain.len)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        /* sealed with a key this configuration no longer has */
        return ngx_http_coze_auth_refresh_transient(r, ctx);
    }

    s->access_token = fresh.access_token;
    s->refresh_token = fresh.refresh_token;
    s->expires = fresh.expires;

    ctx->access_token.len = s->access_token.len;
    ctx->access_token.data = s->access_token.data;
    ctx->reseal = 1;
    ctx->refreshed = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_REFRESHED;

    if (!ctx->initiated) {
        ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_REFRESH_SHARED);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: access token refreshed%s",
                   ctx->initiated ? "" : " by a concurrent request");

    return NGX_OK;
}


/*
 * A refresh that failed for a passing reason: the current token serves
 * while it is valid; once expired, API requests get 503 and navigations
 * a new login.
 */

static ngx_int_t
ngx_http_coze_auth_refresh_transient(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    if (ctx->session.expires > ngx_time()) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "coze auth: refresh failed, the current token is "
                       "used until it expires");
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "coze auth: the access token has expired and could not "
                  "be refreshed");

    ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;

    return ngx_http_coze_auth_is_api(r) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                        : NGX_DECLINED;
}

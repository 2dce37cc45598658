
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Refreshing a session's access token before it expires.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"


static void ngx_http_coze_auth_refresh_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_refresh_transient(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static ngx_int_t ngx_http_coze_auth_refresh_shared(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_rec_value_t *v);
static void ngx_http_coze_auth_refresh_release(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t state);


/*
 * NGX_OK: the current token can be used; NGX_AGAIN: a refresh is under
 * way; NGX_DECLINED: the session is over.
 */

ngx_int_t
ngx_http_coze_auth_refresh(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    time_t                          now;
    ngx_int_t                       rc;
    ngx_str_t                       body, secret, *bearer, rt;
    ngx_http_coze_auth_str_t        out;
    ngx_http_coze_auth_mem_t        mem;
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
        /* the request that refreshes did not finish in time */
        ngx_http_coze_auth_refresh_transient(r, ctx);
        return ctx->status;
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

    /* the refresh is ours to make */
    ctx->locked = 1;

    ngx_http_coze_auth_mem_init(&mem, r->pool);

    if (ngx_http_coze_auth_refresh_request(&mem,
                                    ngx_http_coze_auth_str(&alcf->client_id),
                                    &s->refresh_token, &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = out.len;
    body.data = out.data;

    if (alcf->client_type == NGX_HTTP_COZE_AUTH_WEB) {
        secret = alcf->client_secret;
        bearer = &secret;

    } else {
        bearer = NULL;
    }

    if (ngx_http_coze_auth_call(r, ctx, NGX_HTTP_COZE_AUTH_CALL_REFRESH,
                                &alcf->token_url, &body, bearer,
                                ngx_http_coze_auth_refresh_done)
        != NGX_OK)
    {
        ngx_http_coze_auth_refresh_release(r, ctx,
                                           NGX_HTTP_COZE_AUTH_REC_RETRY);
        ngx_http_coze_auth_refresh_transient(r, ctx);
        return ctx->status;
    }

    return NGX_AGAIN;
}


/* another request refreshed this session: take its result */

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
        /* a refresh just failed for a passing reason: do not pile on */
        ngx_http_coze_auth_refresh_transient(r, ctx);
        return ctx->status;
    }

    if (ngx_http_coze_auth_open_value(r, "refresh", v->data, v->len, &plain)
            != NGX_OK
        || ngx_http_coze_auth_session_decode(&fresh, plain.data, plain.len)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        /* sealed with a key this configuration no longer has */
        ngx_http_coze_auth_refresh_transient(r, ctx);
        return ctx->status;
    }

    s->access_token = fresh.access_token;
    s->refresh_token = fresh.refresh_token;
    s->expires = fresh.expires;

    ctx->access_token.len = s->access_token.len;
    ctx->access_token.data = s->access_token.data;
    ctx->reseal = 1;
    ctx->refreshed = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_REFRESHED;

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_REFRESH_SHARED);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: took the tokens of a concurrent refresh");

    return NGX_OK;
}


/* publishes the outcome for the other requests of this session */

static void
ngx_http_coze_auth_refresh_release(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t state)
{
    size_t                          len, out_len;
    u_char                         *plain;
    ngx_http_coze_auth_session_t    fresh;
    ngx_http_coze_auth_loc_conf_t  *alcf;
    u_char                          out[NGX_HTTP_COZE_AUTH_REC_MAX];

    if (!ctx->locked) {
        return;
    }

    ctx->locked = 0;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (state != NGX_HTTP_COZE_AUTH_REC_VALUE) {
        (void) ngx_http_coze_auth_store_put(ctx->amcf, ctx->hash, state,
                                            NULL, 0, 0,
                                            state == NGX_HTTP_COZE_AUTH_REC_DEAD
                                            ? alcf->refresh_result_ttl : 5);
        ngx_http_coze_auth_wake(ctx->amcf, ctx->hash);
        return;
    }

    ngx_memzero(&fresh, sizeof(ngx_http_coze_auth_session_t));
    fresh.access_token = ctx->session.access_token;
    fresh.refresh_token = ctx->session.refresh_token;
    fresh.expires = ctx->session.expires;

    len = ngx_http_coze_auth_session_encoded_len(&fresh);

    plain = ngx_pnalloc(r->pool, len);

    if (plain == NULL || len == 0) {
        goto failed;
    }

    ngx_http_coze_auth_session_encode(&fresh, plain);

    out_len = sizeof(out);

    if (ngx_http_coze_auth_seal_value(r, "refresh", plain, len, out,
                                      &out_len)
        != NGX_OK)
    {
        ngx_http_coze_auth_cleanse(plain, len);
        goto failed;
    }

    ngx_http_coze_auth_cleanse(plain, len);

    if (ngx_http_coze_auth_store_put(ctx->amcf, ctx->hash,
                                     NGX_HTTP_COZE_AUTH_REC_VALUE, out,
                                     out_len, fresh.expires,
                                     alcf->refresh_result_ttl)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "coze auth: no room in the shared zone for a "
                      "refresh result");
    }

    ngx_http_coze_auth_wake(ctx->amcf, ctx->hash);

    return;

failed:

    ngx_http_coze_auth_store_unlock(ctx->amcf, ctx->hash);
    ngx_http_coze_auth_wake(ctx->amcf, ctx->hash);
}


static void
ngx_http_coze_auth_refresh_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                           rc;
    ngx_str_t                     id;
    ngx_http_coze_auth_mem_t      mem;
    ngx_http_coze_auth_token_t    tok;
    ngx_http_coze_auth_xfer_t    *x;
    ngx_http_coze_auth_session_t *s;

    x = &ctx->xfer;
    s = &ctx->session;

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK || x->status >= 500) {
        ngx_http_coze_auth_refresh_release(r, ctx,
                                           NGX_HTTP_COZE_AUTH_REC_RETRY);
        ngx_http_coze_auth_refresh_transient(r, ctx);
        ngx_http_coze_auth_resume_phases(r, ctx, ctx->status);
        return;
    }

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    ngx_memzero(&tok, sizeof(ngx_http_coze_auth_token_t));

    rc = ngx_http_coze_auth_parse_token(&mem, (long) x->status,
                                        x->response.data, x->response.len,
                                        (int64_t) ngx_time(), &tok);

    id = x->logid;

    if (id.len == 0) {
        id.len = tok.logid.len;
        id.data = tok.logid.data;
    }

    if (rc == NGX_HTTP_COZE_AUTH_E_REMOTE) {
        /* Coze refused the refresh token: the session is over */
        ngx_http_coze_auth_stat_inc(r,
                                    NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_DEAD);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "coze auth: refresh refused, session ended: HTTP %ui, "
                      "Coze error \"%*s\" \"%*s\", logid \"%V\"",
                      x->status, tok.error_code.len, tok.error_code.data,
                      tok.error_message.len, tok.error_message.data, &id);

        ngx_http_coze_auth_refresh_release(r, ctx,
                                           NGX_HTTP_COZE_AUTH_REC_DEAD);

        ctx->result = NGX_HTTP_COZE_AUTH_R_EXPIRED;
        ngx_http_coze_auth_resume_phases(r, ctx, NGX_DECLINED);
        return;
    }

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: refresh: invalid response from Coze, "
                      "HTTP %ui, logid \"%V\"", x->status, &id);

        ngx_http_coze_auth_refresh_release(r, ctx,
                                           NGX_HTTP_COZE_AUTH_REC_RETRY);
        ngx_http_coze_auth_refresh_transient(r, ctx);
        ngx_http_coze_auth_resume_phases(r, ctx, ctx->status);
        return;
    }

    s->access_token = tok.access_token;
    s->expires = tok.expires_at;

    if (tok.refresh_token.len) {
        s->refresh_token = tok.refresh_token;
    }

    ctx->access_token.len = s->access_token.len;
    ctx->access_token.data = s->access_token.data;
    ctx->reseal = 1;
    ctx->refreshed = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_REFRESHED;

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_REFRESH_DONE);

    ngx_http_coze_auth_refresh_release(r, ctx, NGX_HTTP_COZE_AUTH_REC_VALUE);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: access token refreshed");

    ngx_http_coze_auth_resume_phases(r, ctx, NGX_OK);
}


/*
 * A timeout, 5xx or reset proves nothing about the refresh token: keep
 * serving with the current token while it is valid, retry later.
 */

static void
ngx_http_coze_auth_refresh_transient(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_TEMP);

    if (ctx->session.expires > ngx_time()) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "coze auth: refresh failed (%s, HTTP %ui, logid "
                      "\"%V\"), the current token is used until it expires",
                      ngx_http_coze_auth_xfer_result(ctx->xfer.result),
                      ctx->xfer.status, &ctx->xfer.logid);

        ctx->status = NGX_OK;
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "coze auth: refresh failed (%s, HTTP %ui, logid \"%V\") "
                  "and the access token has expired",
                  ngx_http_coze_auth_xfer_result(ctx->xfer.result),
                  ctx->xfer.status, &ctx->xfer.logid);

    ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;

    ctx->status = ngx_http_coze_auth_is_api(r)
                  ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_DECLINED;
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Service tokens for JWT apps: sign an RS256 assertion, trade it for an
 * access token with the jwt-bearer grant.  Tokens are cached in the
 * shared zone per (app, session_name) for all workers; one request
 * renews a token shortly before it expires while the others go on using
 * it, as the official SDKs do.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_jwt.h"


static ngx_int_t ngx_http_coze_auth_jwt_start(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t renewing);
static void ngx_http_coze_auth_jwt_done(ngx_http_coze_auth_task_t *t);
static time_t ngx_http_coze_auth_jwt_margin(time_t ttl);
static ngx_int_t ngx_http_coze_auth_jwt_failed(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);


/* renew this long before expiry, as the official SDKs do */

static time_t
ngx_http_coze_auth_jwt_margin(time_t ttl)
{
    if (ttl >= 600) {
        return 30;
    }

    if (ttl >= 60) {
        return 10;
    }

    if (ttl >= 30) {
        return 5;
    }

    return 1;
}


ngx_int_t
ngx_http_coze_auth_service_token(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    time_t                          now;
    ngx_int_t                       rc;
    ngx_str_t                       session_name, token;
    ngx_http_coze_auth_loc_conf_t  *alcf;
    ngx_http_coze_auth_rec_value_t  v;
    u_char                          buf[NGX_HTTP_COZE_AUTH_REC_MAX];

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_str_null(&session_name);

    if (alcf->jwt_session_name
        && ngx_http_complex_value(r, alcf->jwt_session_name, &session_name)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->session_name = session_name;

    if (ctx->wait_timed_out) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: timed out waiting for a service token");
        ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;
        return NGX_HTTP_GATEWAY_TIME_OUT;
    }

    ngx_http_coze_auth_store_key(ctx->hash, "jwt", &alcf->client_id,
                                 &session_name);

    ngx_memzero(&v, sizeof(ngx_http_coze_auth_rec_value_t));
    v.data = buf;
    v.size = sizeof(buf);
    v.margin = ngx_http_coze_auth_jwt_margin(alcf->jwt_ttl);

    rc = ngx_http_coze_auth_store_get(ctx->amcf, ctx->hash, &v, 1,
                                      alcf->timeout / 1000 + 5);

    if (rc == NGX_BUSY) {
        return ngx_http_coze_auth_wait(r, ctx);
    }

    now = ngx_time();

    if (rc == NGX_OK && v.state == NGX_HTTP_COZE_AUTH_REC_RETRY) {
        return ngx_http_coze_auth_jwt_failed(r, ctx);
    }

    if (rc == NGX_OK
        && v.state == NGX_HTTP_COZE_AUTH_REC_VALUE
        && v.expires > now
        && ngx_http_coze_auth_open_value(r, "jwt", v.data, v.len, &token)
           == NGX_OK)
    {
        ctx->access_token = token;
        ctx->expires = v.expires;
        ctx->result = NGX_HTTP_COZE_AUTH_R_OK;

        if (v.renewing == 2) {
            /* ours to renew; this request goes on with the valid token */
            if (ngx_http_coze_auth_jwt_start(r, ctx, 1) != NGX_OK) {
                ngx_http_coze_auth_store_unlock(ctx->amcf, ctx->hash);
            }

        } else if (!ctx->initiated) {
            /* the request that minted it is not a reuse */
            ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_JWT_REUSED);
        }

        return NGX_OK;
    }

    if (rc == NGX_OK && v.renewing == 1) {
        /* the cached token expired and someone is getting a new one */
        return ngx_http_coze_auth_wait(r, ctx);
    }

    if (ctx->amcf->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_jwt_start(r, ctx, 0) != NGX_OK) {
        ngx_http_coze_auth_store_unlock(ctx->amcf, ctx->hash);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->initiated = 1;

    return ngx_http_coze_auth_wait(r, ctx);
}


static ngx_int_t
ngx_http_coze_auth_jwt_start(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t renewing)
{
    time_t                          now;
    ngx_str_t                       body, jwt;
    ngx_http_coze_auth_str_t        out;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_task_t      *t;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    now = ngx_time();

    ngx_http_coze_auth_mem_init(&mem, r->pool);

    /* a fresh jti every time: Coze accepts each assertion once */
    if (ngx_http_coze_auth_jwt_sign(&mem, alcf->private_key,
                                ngx_http_coze_auth_str(&alcf->public_key_id),
                                ngx_http_coze_auth_str(&alcf->client_id),
                                ngx_http_coze_auth_str(&alcf->jwt_aud),
                                (int64_t) now, (int64_t) (now + 300),
                                ngx_http_coze_auth_str(&ctx->session_name),
                                &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: signing the JWT assertion failed");
        return NGX_ERROR;
    }

    jwt.len = out.len;
    jwt.data = out.data;

    if (ngx_http_coze_auth_jwt_request(&mem, (int64_t) alcf->jwt_ttl,
                                     ngx_http_coze_auth_str(&alcf->jwt_scope),
                                     &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_ERROR;
    }

    body.len = out.len;
    body.data = out.data;

    t = ngx_http_coze_auth_task_create(r, ctx, NGX_HTTP_COZE_AUTH_CALL_JWT);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->renewing = renewing;

    if (ngx_http_coze_auth_task_start(t, &alcf->token_url, &body, &jwt,
                                      ngx_http_coze_auth_jwt_done)
        != NGX_OK)
    {
        ngx_http_coze_auth_task_abort(t);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: %s the service token",
                   renewing ? "renewing" : "getting");

    return NGX_OK;
}


static void
ngx_http_coze_auth_jwt_done(ngx_http_coze_auth_task_t *t)
{
    int                          rc;
    size_t                       out_len;
    time_t                       keep;
    ngx_str_t                    id;
    ngx_http_coze_auth_mem_t     mem;
    ngx_http_coze_auth_token_t   tok;
    ngx_http_coze_auth_xfer_t   *x;
    u_char                       out[NGX_HTTP_COZE_AUTH_REC_MAX];

    x = &t->xfer;

    ngx_http_coze_auth_mem_init(&mem, t->pool);
    ngx_memzero(&tok, sizeof(ngx_http_coze_auth_token_t));

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK) {
        /* the request side only says "see the log line before" */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "coze auth: jwt token request failed: %s%s%V, "
                      "request_id %V",
                      ngx_http_coze_auth_xfer_result(x->result),
                      x->error.len ? ": " : "", &x->error, &t->request_id);
        goto failed;
    }

    rc = ngx_http_coze_auth_parse_token(&mem, (long) x->status,
                                        x->response.data, x->response.len,
                                        (int64_t) ngx_time(), &tok);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        id = x->logid;

        if (id.len == 0) {
            id.len = tok.logid.len;
            id.data = tok.logid.data;
        }

        if (rc == NGX_HTTP_COZE_AUTH_E_REMOTE) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "coze auth: jwt token request refused: HTTP %ui, "
                          "Coze error \"%*s\" \"%*s\", logid \"%V\", "
                          "request_id %V", x->status, tok.error_code.len,
                          tok.error_code.data, tok.error_message.len,
                          tok.error_message.data, &id, &t->request_id);

        } else {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "coze auth: jwt token request failed: HTTP %ui, "
                          "invalid response from Coze, logid \"%V\", "
                          "request_id %V", x->status, &id, &t->request_id);
        }

        goto failed;
    }

    keep = (time_t) (tok.expires_at - ngx_time());
    out_len = sizeof(out);

    if (keep <= 0
        || ngx_http_coze_auth_seal_value(t->alcf, "jwt", tok.access_token.data,
                                         tok.access_token.len, out, &out_len)
           != NGX_OK
        || ngx_http_coze_auth_store_put(t->amcf, t->hash,
                                        NGX_HTTP_COZE_AUTH_REC_VALUE, out,
                                        out_len, tok.expires_at, keep)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "coze auth: cannot cache the service token (expired "
                      "already, or no room in the shared zone)");
        goto failed;
    }

    ngx_http_coze_auth_stat_add(t->amcf, NGX_HTTP_COZE_AUTH_ST_JWT_MINTED);

    ngx_http_coze_auth_cleanse(tok.access_token.data, tok.access_token.len);

    return;

failed:

    ngx_http_coze_auth_stat_add(t->amcf, NGX_HTTP_COZE_AUTH_ST_JWT_FAILED);

    if (t->renewing) {
        /* the current token serves until it expires; retried later */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "coze auth: renewing the service token failed, the "
                      "current one is used until it expires");
        ngx_http_coze_auth_store_unlock(t->amcf, t->hash);
        return;
    }

    if (ngx_http_coze_auth_store_put(t->amcf, t->hash,
                                     NGX_HTTP_COZE_AUTH_REC_RETRY, NULL, 0, 0,
                                     5)
        != NGX_OK)
    {
        ngx_http_coze_auth_store_unlock(t->amcf, t->hash);
    }
}


static ngx_int_t
ngx_http_coze_auth_jwt_failed(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "coze auth: no service token: the last request to Coze "
                  "failed (see the log line before), retried in a few "
                  "seconds");

    ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;

    return ngx_http_coze_auth_is_api(r) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                        : NGX_HTTP_BAD_GATEWAY;
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Service tokens for JWT apps: sign an RS256 assertion, trade it for an
 * access token with the jwt-bearer grant.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_jwt.h"


static void ngx_http_coze_auth_jwt_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_jwt_release(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t ok);
static time_t ngx_http_coze_auth_jwt_margin(time_t ttl);


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
    ngx_str_t                       session_name, body, jwt, token;
    ngx_http_coze_auth_rec_value_t  v;
    u_char                          buf[NGX_HTTP_COZE_AUTH_REC_MAX];
    ngx_http_coze_auth_str_t        out, empty;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_loc_conf_t  *alcf;

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

    if (rc == NGX_OK && v.state == NGX_HTTP_COZE_AUTH_REC_VALUE
        && ngx_http_coze_auth_open_value(r, "jwt", v.data, v.len, &token)
           == NGX_OK)
    {
        ctx->access_token = token;
        ctx->expires = v.expires;
        ctx->result = NGX_HTTP_COZE_AUTH_R_OK;

        if (v.renewing != 2) {
            ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_JWT_REUSED);
            return NGX_OK;
        }

        /* ours to renew; the cached token stays the fallback */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "coze auth: renewing the service token");

    } else {
        ctx->access_token.len = 0;
        ctx->expires = 0;
    }

    ctx->locked = 1;

    now = ngx_time();

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    empty.len = 0;
    empty.data = (unsigned char *) "";

    if (ngx_http_coze_auth_jwt_sign(&mem, alcf->private_key,
                                ngx_http_coze_auth_str(&alcf->public_key_id),
                                ngx_http_coze_auth_str(&alcf->client_id),
                                ngx_http_coze_auth_str(&alcf->jwt_aud),
                                (int64_t) now,
                                (int64_t) (now + 300),
                                ngx_http_coze_auth_str(&session_name), &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: signing the JWT assertion failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    jwt.len = out.len;
    jwt.data = out.data;
    ctx->jwt = jwt;

    if (ngx_http_coze_auth_jwt_request(&mem, (int64_t) alcf->jwt_ttl, &empty,
                                       &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = out.len;
    body.data = out.data;

    if (ngx_http_coze_auth_call(r, ctx, NGX_HTTP_COZE_AUTH_CALL_JWT,
                                &alcf->token_url, &body, &ctx->jwt,
                                ngx_http_coze_auth_jwt_done)
        != NGX_OK)
    {
        ngx_http_coze_auth_jwt_release(r, ctx, 0);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_coze_auth_jwt_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                          rc;
    ngx_str_t                    id;
    ngx_uint_t                   status;
    ngx_http_coze_auth_mem_t     mem;
    ngx_http_coze_auth_token_t   tok;
    ngx_http_coze_auth_xfer_t   *x;

    x = &ctx->xfer;

    status = ngx_http_coze_auth_is_api(r) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                          : NGX_HTTP_BAD_GATEWAY;

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK) {
        ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_JWT_FAILED);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: jwt token request failed: %s",
                      ngx_http_coze_auth_xfer_result(x->result));

        ngx_http_coze_auth_jwt_release(r, ctx, 0);

        if (ctx->access_token.len && ctx->expires > ngx_time()) {
            ngx_http_coze_auth_resume_phases(r, ctx, NGX_OK);
            return;
        }

        ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;
        ngx_http_coze_auth_resume_phases(r, ctx,
            x->result == NGX_HTTP_COZE_AUTH_XFER_TIMEOUT
            ? NGX_HTTP_GATEWAY_TIME_OUT : (ngx_int_t) status);
        return;
    }

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    ngx_memzero(&tok, sizeof(ngx_http_coze_auth_token_t));

    rc = ngx_http_coze_auth_parse_token(&mem, (long) x->status,
                                        x->response.data, x->response.len,
                                        (int64_t) ngx_time(), &tok);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        id = x->logid;

        if (id.len == 0) {
            id.len = tok.logid.len;
            id.data = tok.logid.data;
        }

        ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_JWT_FAILED);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: jwt token request refused: HTTP %ui, "
                      "Coze error \"%*s\" \"%*s\", logid \"%V\"",
                      x->status, tok.error_code.len, tok.error_code.data,
                      tok.error_message.len, tok.error_message.data, &id);

        ngx_http_coze_auth_jwt_release(r, ctx, 0);

        if (ctx->access_token.len && ctx->expires > ngx_time()) {
            /* renewal failed: the current token serves until it expires */
            ngx_http_coze_auth_resume_phases(r, ctx, NGX_OK);
            return;
        }

        ctx->result = NGX_HTTP_COZE_AUTH_R_ERROR;
        ngx_http_coze_auth_resume_phases(r, ctx, status);
        return;
    }

    ctx->access_token.len = tok.access_token.len;
    ctx->access_token.data = tok.access_token.data;
    ctx->expires = tok.expires_at;
    ctx->result = NGX_HTTP_COZE_AUTH_R_OK;

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_JWT_MINTED);

    ngx_http_coze_auth_jwt_release(r, ctx, 1);

    ngx_http_coze_auth_resume_phases(r, ctx, NGX_OK);
}


static void
ngx_http_coze_auth_jwt_release(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t ok)
{
    size_t  out_len;
    time_t  keep;
    u_char  out[NGX_HTTP_COZE_AUTH_REC_MAX];

    if (!ctx->locked) {
        return;
    }

    ctx->locked = 0;

    out_len = sizeof(out);
    keep = (time_t) (ctx->expires - ngx_time());

    if (!ok
        || keep <= 0
        || ngx_http_coze_auth_seal_value(r, "jwt", ctx->access_token.data,
                                         ctx->access_token.len, out,
                                         &out_len)
           != NGX_OK
        || ngx_http_coze_auth_store_put(ctx->amcf, ctx->hash,
                                        NGX_HTTP_COZE_AUTH_REC_VALUE, out,
                                        out_len, ctx->expires, keep)
           != NGX_OK)
    {
        ngx_http_coze_auth_store_unlock(ctx->amcf, ctx->hash);
    }

    ngx_http_coze_auth_wake(ctx->amcf, ctx->hash);
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Endpoints: the OAuth callback (code exchange, users/me, session cookie),
 * logout and userinfo; and the error page shared by all of them.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_util.h"
#include "ngx_http_coze_auth_redis.h"


static void ngx_http_coze_auth_token_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_user_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_login_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static void ngx_http_coze_auth_logout_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static ngx_int_t ngx_http_coze_auth_logout_finish(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static ngx_int_t ngx_http_coze_auth_call_failed(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, const char *what);
static ngx_int_t ngx_http_coze_auth_remote_error(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, const char *what,
    ngx_http_coze_auth_str_t *code, ngx_http_coze_auth_str_t *message,
    ngx_http_coze_auth_str_t *logid);
static ngx_int_t ngx_http_coze_auth_watch_client(ngx_http_request_t *r);
static void ngx_http_coze_auth_redact_code(ngx_http_request_t *r,
    ngx_str_t *code);
static ngx_int_t ngx_http_coze_auth_cross_site(ngx_http_request_t *r);
static ngx_int_t ngx_http_coze_auth_logout_confirm(ngx_http_request_t *r);


/*
 * The authorization code is a credential: hide it from the request line
 * that error-log context and the access log ($request) print from now on.
 */

static void
ngx_http_coze_auth_redact_code(ngx_http_request_t *r, ngx_str_t *code)
{
    u_char  *p, *q, *end, *line;

    if (code->len == 0 || r->request_line.len == 0) {
        return;
    }

    line = ngx_pnalloc(r->pool, r->request_line.len);
    if (line == NULL) {
        return;
    }

    ngx_memcpy(line, r->request_line.data, r->request_line.len);
    end = line + r->request_line.len;

    for (p = line + 1; p + 5 < end; p++) {
        if ((p[-1] != '?' && p[-1] != '&')
            || ngx_strncmp(p, "code=", 5) != 0)
        {
            continue;
        }

        for (q = p + 5; q < end && *q != '&' && *q != ' '; q++) {
            *q = 'x';
        }
    }

    r->request_line.data = line;
}


/* an unescaped query argument; NGX_DECLINED when absent */

ngx_int_t
ngx_http_coze_auth_query(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    size_t                    len;
    ngx_http_coze_auth_str_t  raw;

    if (r->args.len == 0
        || ngx_http_coze_auth_query_arg(r->args.data, r->args.len, name, &raw)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    len = raw.len;

    if (ngx_http_coze_auth_url_unescape(value->data, &len, raw.data, raw.len,
                                        1)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    value->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_coze_auth_callback_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       code, state, error, desc, body;
    ngx_str_t                       secret, *bearer;
    ngx_http_coze_auth_str_t        out;
    ngx_http_coze_auth_ctx_t       *ctx;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_query(r, "code", &code) == NGX_ERROR
        || ngx_http_coze_auth_query(r, "state", &state) == NGX_ERROR
        || ngx_http_coze_auth_query(r, "error", &error) == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_coze_auth_redact_code(r, &code);

    if (code.data == NULL && state.data == NULL && error.data == NULL) {
        /* no answer from Coze: this is a request to start a login */

        if (ngx_http_coze_auth_query(r, "return_to", &desc) == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (desc.len
            && !ngx_http_coze_auth_return_path_valid(desc.data, desc.len))
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "coze auth: unsafe return_to ignored");
            ngx_str_null(&desc);
        }

        return ngx_http_coze_auth_login_start(r, &desc);
    }

    if (ngx_http_coze_auth_session_load(r, ctx) == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_coze_auth_state_find(r, &state, &ctx->state,
                                       &ctx->state_cookie);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        if (ctx->has_session) {
            /* a replayed or late callback of a finished login */
            return ngx_http_coze_auth_redirect(r, (u_char *) "/", 1);
        }

        ngx_http_coze_auth_stat_inc(r,
                                    NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_STATE);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: login failed: the state is unknown, "
                      "expired or from another browser");

        ngx_str_set(&desc, "This sign-in attempt has expired or was "
                    "started in another browser. Please sign in again.");

        return ngx_http_coze_auth_error_page(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_state", &desc);
    }

    /* the flow is over whatever happens next */
    if (ngx_http_coze_auth_state_clear(r, &ctx->state_cookie) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (error.data) {
        ngx_http_coze_auth_stat_inc(r,
                                    NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_DENIED);

        if (ngx_http_coze_auth_query(r, "error_description", &desc)
            == NGX_ERROR)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the value comes from the URL: only a safe token reaches logs */
        ngx_http_coze_auth_log_safe(&error);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: login refused by Coze: error \"%V\"",
                      &error);

        ngx_str_set(&desc, "Sign-in with Coze was cancelled or refused. "
                    "You can try again.");

        return ngx_http_coze_auth_error_page(r, NGX_HTTP_FORBIDDEN,
                                             "access_denied", &desc);
    }

    if (ctx->has_session) {
        return ngx_http_coze_auth_redirect(r, ctx->state.return_to.data,
                                           ctx->state.return_to.len);
    }

    if (code.len == 0) {
        ngx_http_coze_auth_stat_inc(r,
                                    NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_TOKEN);

        ngx_str_set(&desc, "Coze sent no authorization code.");

        return ngx_http_coze_auth_error_page(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request", &desc);
    }

    ngx_http_coze_auth_mem_init(&mem, r->pool);

    if (ngx_http_coze_auth_code_request(&mem,
                                    ngx_http_coze_auth_str(&alcf->client_id),
                                    &ctx->state.redirect_uri,
                                    ngx_http_coze_auth_str(&code),
                                    &ctx->state.verifier, &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = out.len;
    body.data = out.data;

    /* web apps authenticate with the secret; PKCE apps send none */
    if (alcf->client_type == NGX_HTTP_COZE_AUTH_WEB) {
        secret = alcf->client_secret;
        bearer = &secret;

    } else {
        bearer = NULL;
    }

    if (ngx_http_coze_auth_call(r, ctx, NGX_HTTP_COZE_AUTH_CALL_TOKEN,
                                &alcf->token_url, &body, bearer,
                                ngx_http_coze_auth_token_done)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_watch_client(r) != NGX_OK) {
        ngx_http_coze_auth_curl_cancel(&ctx->xfer);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/* keeps [A-Za-z0-9._-], at most 64 of them; anything else becomes '?' */

void
ngx_http_coze_auth_log_safe(ngx_str_t *s)
{
    size_t  i;

    if (s->len > 64) {
        s->len = 64;
    }

    for (i = 0; i < s->len; i++) {
        if (!((s->data[i] >= 'a' && s->data[i] <= 'z')
              || (s->data[i] >= 'A' && s->data[i] <= 'Z')
              || (s->data[i] >= '0' && s->data[i] <= '9')
              || s->data[i] == '_' || s->data[i] == '-'
              || s->data[i] == '.'))
        {
            s->data[i] = '?';
        }
    }
}


/* a client that goes away finalizes the request, which cancels the call */

static ngx_int_t
ngx_http_coze_auth_watch_client(ngx_http_request_t *r)
{
    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    r->read_event_handler = ngx_http_test_reading;

    return NGX_OK;
}


static void
ngx_http_coze_auth_token_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                             rc;
    ngx_str_t                       bearer;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_token_t      tok;
    ngx_http_coze_auth_xfer_t      *x;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    x = &ctx->xfer;

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK) {
        ngx_http_finalize_request(r,
            ngx_http_coze_auth_call_failed(r, ctx, "code exchange"));
        return;
    }

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    ngx_memzero(&tok, sizeof(ngx_http_coze_auth_token_t));

    rc = ngx_http_coze_auth_parse_token(&mem, (long) x->status,
                                        x->response.data, x->response.len,
                                        (int64_t) ngx_time(), &tok);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        ngx_http_finalize_request(r,
            ngx_http_coze_auth_remote_error(r, ctx, "code exchange",
                                            rc == NGX_HTTP_COZE_AUTH_E_REMOTE
                                            ? &tok.error_code : NULL,
                                            &tok.error_message, &tok.logid));
        return;
    }

    ctx->access_token.len = tok.access_token.len;
    ctx->access_token.data = tok.access_token.data;
    ctx->refresh_token.len = tok.refresh_token.len;
    ctx->refresh_token.data = tok.refresh_token.data;
    ctx->expires = tok.expires_at;

    bearer = ctx->access_token;

    if (ngx_http_coze_auth_call(r, ctx, NGX_HTTP_COZE_AUTH_CALL_USER,
                                &alcf->userinfo_url, NULL, &bearer,
                                ngx_http_coze_auth_user_done)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
}


static void
ngx_http_coze_auth_user_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    int                             rc;
    time_t                          now;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_user_t       user;
    ngx_http_coze_auth_xfer_t      *x;
    ngx_http_coze_auth_session_t   *s;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    x = &ctx->xfer;

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK) {
        ngx_http_finalize_request(r,
            ngx_http_coze_auth_call_failed(r, ctx, "users/me"));
        return;
    }

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    ngx_memzero(&user, sizeof(ngx_http_coze_auth_user_t));

    rc = ngx_http_coze_auth_parse_user(&mem, (long) x->status,
                                       x->response.data, x->response.len,
                                       &user);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        u_char                    buf[NGX_INT_T_LEN];
        ngx_http_coze_auth_str_t  code;

        code.data = buf;
        code.len = ngx_sprintf(buf, "%l", user.code) - buf;

        ngx_http_finalize_request(r,
            ngx_http_coze_auth_remote_error(r, ctx, "users/me",
                                            rc == NGX_HTTP_COZE_AUTH_E_REMOTE
                                            ? &code : NULL,
                                            &user.msg, &user.logid));
        return;
    }

    now = ngx_time();
    s = &ctx->session;

    ngx_memzero(s, sizeof(ngx_http_coze_auth_session_t));

    s->created = now;
    s->last_seen = now;
    s->expires = ctx->expires;
    s->access_token.len = ctx->access_token.len;
    s->access_token.data = ctx->access_token.data;
    s->refresh_token.len = ctx->refresh_token.len;
    s->refresh_token.data = ctx->refresh_token.data;
    s->user_id = user.user_id;
    s->user_name = user.user_name;
    s->nick_name = user.nick_name;
    s->avatar_url = user.avatar_url;

    ctx->has_session = 1;
    ctx->result = NGX_HTTP_COZE_AUTH_R_OK;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        rc = ngx_http_coze_auth_rsession_create(r, ctx,
                                                ngx_http_coze_auth_login_done);
        if (rc == NGX_AGAIN) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /* NGX_BUSY: login_done() answers 503 */

    } else if (ngx_http_coze_auth_session_store(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_coze_auth_login_done(r, ctx);
}


static void
ngx_http_coze_auth_login_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        rc = ngx_http_coze_auth_rsession_created(r, ctx);

        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "coze auth: login failed: the session could not "
                          "be stored in redis");

            ngx_http_finalize_request(r,
                                  ngx_http_coze_auth_rsession_unavailable(r));
            return;
        }
    }

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_LOGIN_DONE);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "coze auth: user \"%*s\" signed in",
                  ctx->session.user_id.len, ctx->session.user_id.data);

    ngx_http_finalize_request(r,
        ngx_http_coze_auth_redirect(r, ctx->state.return_to.data,
                                    ctx->state.return_to.len));
}


static ngx_int_t
ngx_http_coze_auth_call_failed(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, const char *what)
{
    ngx_str_t    text;
    ngx_uint_t   status;

    ngx_http_coze_auth_stat_inc(r,
                         ctx->endpoint == NGX_HTTP_COZE_AUTH_CALL_USER
                         ? NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_USER
                         : NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_TOKEN);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "coze auth: login failed: %s: %s", what,
                  ngx_http_coze_auth_xfer_result(ctx->xfer.result));

    if (ctx->xfer.result == NGX_HTTP_COZE_AUTH_XFER_TIMEOUT) {
        status = NGX_HTTP_GATEWAY_TIME_OUT;
        ngx_str_set(&text, "Coze did not answer in time. Please try again.");

    } else {
        status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_set(&text, "Coze could not be reached. Please try again.");
    }

    return ngx_http_coze_auth_error_page(r, status, "coze_unavailable",
                                         &text);
}


static ngx_int_t
ngx_http_coze_auth_remote_error(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, const char *what,
    ngx_http_coze_auth_str_t *code, ngx_http_coze_auth_str_t *message,
    ngx_http_coze_auth_str_t *logid)
{
    ngx_str_t  text, id;

    ngx_http_coze_auth_stat_inc(r,
                         ctx->endpoint == NGX_HTTP_COZE_AUTH_CALL_USER
                         ? NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_USER
                         : NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_TOKEN);

    /* the header is authoritative, the body's detail.logid a fallback */
    id = ctx->xfer.logid;

    if (id.len == 0 && logid->len) {
        id.len = logid->len;
        id.data = logid->data;
    }

    if (code) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: login failed: %s: HTTP %ui, Coze error "
                      "\"%*s\" \"%*s\", logid \"%V\"", what,
                      ctx->xfer.status, code->len, code->data,
                      message->len, message->data, &id);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: login failed: %s: HTTP %ui, invalid "
                      "response from Coze, logid \"%V\"", what,
                      ctx->xfer.status, &id);
    }

    /*
     * a 400 to the code exchange refuses this code (used, expired, not
     * ours): the browser's fault, e.g. a replayed callback, not Coze's
     */
    if (code && ctx->endpoint == NGX_HTTP_COZE_AUTH_CALL_TOKEN
        && ctx->xfer.status == NGX_HTTP_BAD_REQUEST)
    {
        ngx_str_set(&text, "This sign-in attempt has expired or was "
                    "already used. Please sign in again.");

        return ngx_http_coze_auth_error_page(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_grant", &text);
    }

    ngx_str_set(&text, "Coze refused the sign-in. Please try again.");

    return ngx_http_coze_auth_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                         "coze_error", &text);
}


ngx_int_t
ngx_http_coze_auth_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t     rc;
    ngx_chain_t   out;

    if (ngx_http_coze_auth_header_out(r, "Cache-Control",
                                      (u_char *) "no-store", 8)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A short page for browsers, JSON for API clients; never any token or
 * Coze's raw answer.  Returns what the content handler should return.
 */

ngx_int_t
ngx_http_coze_auth_error_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *text)
{
    u_char     *p;
    size_t      len, clen;
    ngx_buf_t  *b;
    ngx_str_t   type, head;

    clen = ngx_strlen(code);

    if (ngx_http_coze_auth_is_api(r)) {
        len = sizeof("{\"error\":\"\",\"message\":\"\"}\n") - 1 + clen
              + ngx_http_coze_auth_json_escape(NULL, text->data, text->len);

        b = ngx_create_temp_buf(r->pool, len);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(b->last, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
        p = ngx_cpymem(p, code, clen);
        p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
        p += ngx_http_coze_auth_json_escape(p, text->data, text->len);
        p = ngx_cpymem(p, "\"}\n", 3);
        b->last = p;

        ngx_str_set(&type, "application/json");

        return ngx_http_coze_auth_send(r, status, &type, b);
    }

#define NGX_HTTP_COZE_AUTH_PAGE_HEAD                                         \
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"                  \
    "<title>Sign-in failed</title></head>\n<body>\n"                         \
    "<h1>Sign-in with Coze failed</h1>\n<p>"
#define NGX_HTTP_COZE_AUTH_PAGE_HEAD_503                                     \
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"                  \
    "<title>Temporarily unavailable</title></head>\n<body>\n"               \
    "<h1>Temporarily unavailable</h1>\n<p>"
#define NGX_HTTP_COZE_AUTH_PAGE_TAIL                                         \
    "</p>\n<p><a href=\"/\">Back to the home page</a></p>\n"                 \
    "<p><small>error: "

    /* a session store outage is not a failed sign-in */
    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_str_set(&head, NGX_HTTP_COZE_AUTH_PAGE_HEAD_503);

    } else {
        ngx_str_set(&head, NGX_HTTP_COZE_AUTH_PAGE_HEAD);
    }

    len = head.len
          + ngx_http_coze_auth_html_escape(NULL, text->data, text->len)
          + sizeof(NGX_HTTP_COZE_AUTH_PAGE_TAIL) - 1 + clen
          + sizeof("</small></p>\n</body></html>\n") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, head.data, head.len);
    p += ngx_http_coze_auth_html_escape(p, text->data, text->len);
    p = ngx_cpymem(p, NGX_HTTP_COZE_AUTH_PAGE_TAIL,
                   sizeof(NGX_HTTP_COZE_AUTH_PAGE_TAIL) - 1);
    p = ngx_cpymem(p, code, clen);
    p = ngx_cpymem(p, "</small></p>\n</body></html>\n",
                   sizeof("</small></p>\n</body></html>\n") - 1);
    b->last = p;

    ngx_str_set(&type, "text/html");

    return ngx_http_coze_auth_send(r, status, &type, b);
}


ngx_int_t
ngx_http_coze_auth_logout_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_coze_auth_ctx_t       *ctx;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * another site must not log users out behind their back: a
     * cross-site request gets a page whose button confirms from here
     */
    if (ngx_http_coze_auth_cross_site(r)) {
        return ngx_http_coze_auth_logout_confirm(r);
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        /* the access phase has read it: its user leaves the user's set */
        if (ngx_http_coze_auth_session_load(r, ctx) == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_coze_auth_rsession_destroy(r, ctx,
                                              ngx_http_coze_auth_logout_done);

        if (rc == NGX_AGAIN) {
            if (ngx_http_coze_auth_watch_client(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            r->main->count++;
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_coze_auth_logout_finish(r, ctx);
}


static void
ngx_http_coze_auth_logout_done(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_http_finalize_request(r, ngx_http_coze_auth_logout_finish(r, ctx));
}


/* the cookie goes in any case; a session Redis could not end gets a 503 */

static ngx_int_t
ngx_http_coze_auth_logout_finish(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_str_t                       empty, target;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_str_null(&empty);

    if (ngx_http_coze_auth_cookie_set(r, &alcf->cookie->name, &empty, 0)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->rs_key.len && ctx->rs_state == NGX_HTTP_COZE_AUTH_RS_DOWN) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "coze auth: logout: the server-side session could "
                      "not be ended, redis is unavailable");

        return ngx_http_coze_auth_rsession_unavailable(r);
    }

    if (ngx_http_coze_auth_query(r, "return_to", &target) == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (target.len
        && !ngx_http_coze_auth_return_path_valid(target.data, target.len))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "coze auth: unsafe logout target ignored");
        target.len = 0;
    }

    if (target.len == 0) {
        target = alcf->logout_target;
    }

    if (target.len == 0) {
        ngx_str_set(&target, "/");
    }

    return ngx_http_coze_auth_redirect(r, target.data, target.len);
}


static ngx_int_t
ngx_http_coze_auth_cross_site(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_http_coze_auth_header_in(r, "Sec-Fetch-Site");

    return h != NULL && ngx_http_coze_auth_value_is(h, "cross-site");
}


static ngx_int_t
ngx_http_coze_auth_logout_confirm(ngx_http_request_t *r)
{
    ngx_buf_t  *b;
    ngx_str_t   type;

#define NGX_HTTP_COZE_AUTH_CONFIRM                                           \
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"                  \
    "<title>Sign out</title></head>\n<body>\n"                               \
    "<form method=\"post\"><p>Sign out of this site?</p>"                    \
    "<button type=\"submit\">Sign out</button></form>\n"                     \
    "</body></html>\n"

    b = ngx_create_temp_buf(r->pool, sizeof(NGX_HTTP_COZE_AUTH_CONFIRM) - 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, NGX_HTTP_COZE_AUTH_CONFIRM,
                         sizeof(NGX_HTTP_COZE_AUTH_CONFIRM) - 1);

    ngx_str_set(&type, "text/html");

    return ngx_http_coze_auth_send(r, NGX_HTTP_OK, &type, b);
}


ngx_int_t
ngx_http_coze_auth_userinfo_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    size_t                          len;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_str_t                       type;
    ngx_uint_t                      tokens;
    ngx_http_coze_auth_ctx_t       *ctx;
    ngx_http_coze_auth_session_t   *s;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    /* POST: the access phase refreshed the tokens first */
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_coze_auth_session_load(r, ctx);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_BUSY) {
        return ngx_http_coze_auth_rsession_unavailable(r);
    }

    ngx_str_set(&type, "application/json");

    if (!ctx->has_session) {
        b = ngx_create_temp_buf(r->pool, sizeof("{\"authenticated\":false}"));
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_cpymem(b->last, "{\"authenticated\":false}\n",
                             sizeof("{\"authenticated\":false}\n") - 1);

        return ngx_http_coze_auth_send(r, NGX_HTTP_UNAUTHORIZED, &type, b);
    }

    s = &ctx->session;
    tokens = alcf->userinfo_tokens;

#define ngx_http_coze_auth_jlen(f)                                           \
    ngx_http_coze_auth_json_escape(NULL, s->f.data, s->f.len)

    len = sizeof("{\"authenticated\":true,\"user_id\":\"\",\"user_name\":\"\","
                 "\"nick_name\":\"\",\"avatar_url\":\"\",\"expires_at\":,"
                 "\"session_expires_at\":}\n") - 1
          + 2 * NGX_INT64_LEN
          + ngx_http_coze_auth_jlen(user_id)
          + ngx_http_coze_auth_jlen(user_name)
          + ngx_http_coze_auth_jlen(nick_name)
          + ngx_http_coze_auth_jlen(avatar_url);

    if (tokens) {
        len += sizeof(",\"access_token\":\"\",\"refresh_token\":\"\"") - 1
               + ngx_http_coze_auth_jlen(access_token)
               + ngx_http_coze_auth_jlen(refresh_token);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#define ngx_http_coze_auth_jfield(name, f)                                   \
    p = ngx_cpymem(p, name, sizeof(name) - 1);                               \
    p += ngx_http_coze_auth_json_escape(p, s->f.data, s->f.len)

    p = b->last;
    ngx_http_coze_auth_jfield("{\"authenticated\":true,\"user_id\":\"",
                              user_id);
    ngx_http_coze_auth_jfield("\",\"user_name\":\"", user_name);
    ngx_http_coze_auth_jfield("\",\"nick_name\":\"", nick_name);
    ngx_http_coze_auth_jfield("\",\"avatar_url\":\"", avatar_url);

    p = ngx_sprintf(p, "\",\"expires_at\":%L,\"session_expires_at\":%L",
                    s->expires,
                    (int64_t) (s->created + alcf->session_lifetime));

    if (tokens) {
        ngx_http_coze_auth_jfield(",\"access_token\":\"", access_token);
        ngx_http_coze_auth_jfield("\",\"refresh_token\":\"", refresh_token);
        *p++ = '"';
    }

#undef ngx_http_coze_auth_jfield
#undef ngx_http_coze_auth_jlen

    p = ngx_cpymem(p, "}\n", 2);
    b->last = p;

    return ngx_http_coze_auth_send(r, NGX_HTTP_OK, &type, b);
}

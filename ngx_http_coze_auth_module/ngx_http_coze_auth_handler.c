
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * The access phase: open the session, refresh or mint tokens when
 * needed, inject the token upstream, or apply the unauthenticated rule.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_util.h"
#include "ngx_http_coze_auth_redis.h"


static ngx_int_t ngx_http_coze_auth_inject(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *token);
static ngx_int_t ngx_http_coze_auth_unauthenticated(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
static ngx_int_t ngx_http_coze_auth_send_401(ngx_http_request_t *r);
static void ngx_http_coze_auth_wait_handler(ngx_http_request_t *r);


ngx_int_t
ngx_http_coze_auth_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       token;
    ngx_http_coze_auth_ctx_t       *ctx;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (!alcf->enable
        && (alcf->session_store != NGX_HTTP_COZE_AUTH_STORE_REDIS
            || alcf->endpoint == NGX_HTTP_COZE_AUTH_EP_NONE
            || alcf->endpoint == NGX_HTTP_COZE_AUTH_EP_STATUS
            || alcf->endpoint == NGX_HTTP_COZE_AUTH_EP_REVOKE))
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->waiting) {
        return NGX_AGAIN;
    }

    /* server-side sessions are read before anything needs them */
    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS
        && alcf->client_type != NGX_HTTP_COZE_AUTH_TOKEN
        && alcf->client_type != NGX_HTTP_COZE_AUTH_JWT)
    {
        rc = ngx_http_coze_auth_rsession_fetch(r, ctx);

        if (rc == NGX_AGAIN) {
            goto suspend;
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (!alcf->enable) {
        /* the callback, logout and userinfo endpoints */
        return NGX_DECLINED;
    }

    switch (alcf->client_type) {

    case NGX_HTTP_COZE_AUTH_TOKEN:
        ctx->result = NGX_HTTP_COZE_AUTH_R_OK;
        ctx->access_token = alcf->static_token;
        goto authenticated;

    case NGX_HTTP_COZE_AUTH_JWT:
        rc = ngx_http_coze_auth_service_token(r, ctx);

        if (rc == NGX_AGAIN) {
            goto suspend;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        goto authenticated;

    default:
        break;
    }

    rc = ngx_http_coze_auth_session_load(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_BUSY) {
        ngx_http_finalize_request(r,
                                  ngx_http_coze_auth_rsession_unavailable(r));
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_coze_auth_unauthenticated(r, ctx);
    }

    ctx->access_token.len = ctx->session.access_token.len;
    ctx->access_token.data = ctx->session.access_token.data;

    /* POST to the userinfo endpoint refreshes now (the demo's button) */
    if (alcf->endpoint == NGX_HTTP_COZE_AUTH_EP_USERINFO
        && r->method == NGX_HTTP_POST && !ctx->refreshed)
    {
        ctx->force_refresh = 1;
    }

    rc = ngx_http_coze_auth_refresh(r, ctx);

    if (rc == NGX_AGAIN) {
        goto suspend;
    }

    if (rc == NGX_DECLINED) {
        /* the session ended (refresh token dead, token expired) */
        return ngx_http_coze_auth_unauthenticated(r, ctx);
    }

    if (rc != NGX_OK) {
        return rc;
    }

authenticated:

    if (ctx->reseal && ctx->has_session) {
        if (ngx_http_coze_auth_session_store(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    token.len = ctx->access_token.len;
    token.data = ctx->access_token.data;

    if (ngx_http_coze_auth_inject(r, ctx, &token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;

suspend:

    /* ngx_http_coze_auth_wake() or the poll timer runs the phases again */
    r->write_event_handler = ngx_http_coze_auth_wait_handler;

    /* a client that goes away ends the request, and so the call */
    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->read_event_handler = ngx_http_test_reading;

    return NGX_AGAIN;
}


static void
ngx_http_coze_auth_wait_handler(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: waiting for Coze");
}


static ngx_int_t
ngx_http_coze_auth_inject(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *token)
{
    u_char                         *p;
    ngx_str_t                       value;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->strip_cookie) {
        if (ngx_http_coze_auth_strip_cookies(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (alcf->token_header.len == 0) {
        return NGX_OK;
    }

    value.len = sizeof("Bearer ") - 1 + token->len;
    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(value.data, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, token->data, token->len);

    return ngx_http_coze_auth_set_header(r, &alcf->token_header, &value);
}


/*
 * Browser navigations get a login redirect, API calls a 401: decided from
 * Sec-Fetch-*, X-Requested-With, Accept and the method.
 */

ngx_int_t
ngx_http_coze_auth_is_api(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return 1;
    }

    h = ngx_http_coze_auth_header_in(r, "Sec-Fetch-Mode");

    if (h && !ngx_http_coze_auth_value_is(h, "navigate")) {
        return 1;
    }

    h = ngx_http_coze_auth_header_in(r, "Sec-Fetch-Dest");

    if (h && !ngx_http_coze_auth_value_is(h, "document")
        && !ngx_http_coze_auth_value_is(h, "iframe"))
    {
        return 1;
    }

    if (ngx_http_coze_auth_header_in(r, "X-Requested-With")) {
        return 1;
    }

    h = ngx_http_coze_auth_header_in(r, "Accept");

    return h != NULL
           && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                               (u_char *) "text/html", 9 - 1)
              == NULL;
}


static ngx_int_t
ngx_http_coze_auth_unauthenticated(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_str_t                       empty;
    ngx_uint_t                      mode;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_UNAUTHENTICATED);

    ctx->has_session = 0;
    ctx->access_token.len = 0;

    mode = alcf->unauthenticated;

    if (mode == NGX_HTTP_COZE_AUTH_UNAUTH_PASS) {
        if (alcf->strip_cookie
            && ngx_http_coze_auth_strip_cookies(r) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_DECLINED;
    }

    /* a broken or ended session cookie is deleted */
    if (ctx->result == NGX_HTTP_COZE_AUTH_R_INVALID
        || ctx->result == NGX_HTTP_COZE_AUTH_R_EXPIRED)
    {
        /*
         * and a server-side session that ended (lifetime, idle, refresh
         * token dead); one this node merely cannot open stays for the
         * nodes that can
         */
        if (ctx->rs_found
            && ctx->result == NGX_HTTP_COZE_AUTH_R_EXPIRED
            && ngx_http_coze_auth_rsession_destroy(r, ctx, NULL)
               == NGX_ERROR)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_null(&empty);

        if (ngx_http_coze_auth_cookie_set(r, &alcf->cookie->name, &empty, 0)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (mode == NGX_HTTP_COZE_AUTH_UNAUTH_AUTO) {
        mode = ngx_http_coze_auth_is_api(r) ? NGX_HTTP_COZE_AUTH_UNAUTH_401
                                           : NGX_HTTP_COZE_AUTH_UNAUTH_REDIRECT;
    }

    if (mode == NGX_HTTP_COZE_AUTH_UNAUTH_401) {
        return ngx_http_coze_auth_send_401(r);
    }

    return ngx_http_coze_auth_login_start(r, &r->unparsed_uri);
}


/* the URL that starts a login: the callback with ?return_to=... */

ngx_int_t
ngx_http_coze_auth_login_url(ngx_http_request_t *r, ngx_str_t *return_to,
    ngx_str_t *url)
{
    u_char                         *p;
    size_t                          len;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    len = ngx_http_coze_auth_url_escape(NULL, return_to->data,
                                        return_to->len);

    url->len = alcf->redirect_uri.len + sizeof("?return_to=") - 1 + len;
    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, alcf->redirect_uri.data,
                   alcf->redirect_uri.len);
    p = ngx_cpymem(p, "?return_to=", sizeof("?return_to=") - 1);
    ngx_http_coze_auth_url_escape(p, return_to->data, return_to->len);

    return NGX_OK;
}


/*
 * The page to come back to after a login started by an API request: the
 * referring page when it is on this site, else "/".
 */

static void
ngx_http_coze_auth_api_return_path(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char     *p, *end;
    ngx_str_t   host;

    ngx_str_set(path, "/");

    if (r->headers_in.referer == NULL || r->headers_in.host == NULL) {
        return;
    }

    p = r->headers_in.referer->value.data;
    end = p + r->headers_in.referer->value.len;
    host = r->headers_in.host->value;

    if (end - p > 8 && ngx_strncmp(p, "https://", 8) == 0) {
        p += 8;

    } else if (end - p > 7 && ngx_strncmp(p, "http://", 7) == 0) {
        p += 7;

    } else {
        return;
    }

    if ((size_t) (end - p) <= host.len
        || ngx_strncasecmp(p, host.data, host.len) != 0
        || p[host.len] != '/')
    {
        return;
    }

    p += host.len;

    if (ngx_http_coze_auth_return_path_valid(p, end - p)) {
        path->data = p;
        path->len = end - p;
    }
}


static ngx_int_t
ngx_http_coze_auth_send_401(ngx_http_request_t *r)
{
    u_char           *p;
    size_t            len;
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_str_t         login, path;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_coze_auth_api_return_path(r, &path);

    if (ngx_http_coze_auth_login_url(r, &path, &login) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_http_coze_auth_header_out(r, "WWW-Authenticate",
                                      (u_char *) "Bearer realm=\"coze\"",
                                      sizeof("Bearer realm=\"coze\"") - 1);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.www_authenticate = h;

    len = sizeof("{\"error\":\"unauthenticated\",\"message\":"
                 "\"sign in with Coze first\",\"login_url\":\"\"}\n") - 1
          + ngx_http_coze_auth_json_escape(NULL, login.data, login.len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"error\":\"unauthenticated\",\"message\":"
                   "\"sign in with Coze first\",\"login_url\":\"",
                   sizeof("{\"error\":\"unauthenticated\",\"message\":"
                          "\"sign in with Coze first\",\"login_url\":\"")
                   - 1);
    p += ngx_http_coze_auth_json_escape(p, login.data, login.len);
    p = ngx_cpymem(p, "\"}\n", 3);
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_UNAUTHORIZED;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
}


/*
 * Starts a login: a fresh state (and PKCE verifier) sealed into a
 * per-flow cookie, then a redirect to Coze's authorize page.
 */

ngx_int_t
ngx_http_coze_auth_login_start(ngx_http_request_t *r, ngx_str_t *return_to)
{
    u_char                          rnd[24];
    ngx_str_t                       redirect_uri;
    ngx_http_coze_auth_str_t        url, challenge, empty;
    ngx_http_coze_auth_mem_t        mem;
    ngx_http_coze_auth_state_t      st;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    ngx_http_coze_auth_mem_init(&mem, r->pool);
    ngx_memzero(&st, sizeof(ngx_http_coze_auth_state_t));

    st.created = ngx_time();

    if (ngx_http_coze_auth_random(rnd, sizeof(rnd)) != NGX_HTTP_COZE_AUTH_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.state.data = ngx_pnalloc(r->pool,
                                ngx_http_coze_auth_b64url_len(sizeof(rnd)));
    if (st.state.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.state.len = ngx_http_coze_auth_b64url_encode(st.state.data, rnd,
                                                    sizeof(rnd));

    if (return_to->len
        && ngx_http_coze_auth_return_path_valid(return_to->data,
                                                return_to->len))
    {
        st.return_to.len = return_to->len;
        st.return_to.data = return_to->data;

    } else {
        ngx_http_coze_auth_str_set(&st.return_to, "/");
    }

    if (ngx_http_coze_auth_redirect_uri_abs(r, &redirect_uri) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.redirect_uri.len = redirect_uri.len;
    st.redirect_uri.data = redirect_uri.data;

    empty.len = 0;
    empty.data = (unsigned char *) "";
    challenge = empty;

    if (alcf->client_type == NGX_HTTP_COZE_AUTH_PKCE) {
        if (ngx_http_coze_auth_pkce_verifier(&mem, &st.verifier)
                != NGX_HTTP_COZE_AUTH_OK
            || ngx_http_coze_auth_pkce_s256(&mem, &st.verifier, &challenge)
               != NGX_HTTP_COZE_AUTH_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_coze_auth_authorize_url(&mem,
                                ngx_http_coze_auth_str(&alcf->www_base),
                                ngx_http_coze_auth_str(&alcf->workspace_id),
                                ngx_http_coze_auth_str(&alcf->client_id),
                                &st.redirect_uri, &st.state, &challenge, &url)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_state_begin(r, &st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_coze_auth_stat_inc(r, NGX_HTTP_COZE_AUTH_ST_LOGIN_STARTED);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: login started");

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_header_out(r, "Cache-Control",
                                      (u_char *) "no-store", 8)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_coze_auth_redirect(r, url.data, url.len);
}


ngx_int_t
ngx_http_coze_auth_redirect(ngx_http_request_t *r, u_char *url, size_t len)
{
    ngx_table_elt_t  *h;

    ngx_http_clear_location(r);

    h = ngx_http_coze_auth_header_out(r, "Location", url, len);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = h;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/* the registered callback URL; a path is resolved against this request */

ngx_int_t
ngx_http_coze_auth_redirect_uri_abs(ngx_http_request_t *r, ngx_str_t *uri)
{
    u_char                         *p;
    ngx_str_t                       host;
    ngx_uint_t                      https;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->redirect_uri.data[0] != '/') {
        *uri = alcf->redirect_uri;
        return NGX_OK;
    }

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

    } else {
        host = r->headers_in.server;
    }

    https = ngx_http_coze_auth_scheme_secure(r);

    uri->len = (https ? sizeof("https://") : sizeof("http://")) - 1
               + host.len + alcf->redirect_uri.len;
    uri->data = ngx_pnalloc(r->pool, uri->len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri->data, https ? "https://" : "http://",
                   https ? sizeof("https://") - 1 : sizeof("http://") - 1);
    p = ngx_cpymem(p, host.data, host.len);
    ngx_memcpy(p, alcf->redirect_uri.data, alcf->redirect_uri.len);

    return NGX_OK;
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * $coze_* variables.  They read the request's session, opening the
 * cookie on first use when the access phase has not done so already.
 */


#include "ngx_http_coze_auth_module.h"


static ngx_int_t ngx_http_coze_auth_session_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_coze_auth_token_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_coze_auth_expires_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_coze_auth_result_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_coze_auth_ctx_t *ngx_http_coze_auth_var_ctx(
    ngx_http_request_t *r);


static ngx_http_variable_t  ngx_http_coze_auth_vars[] = {

    { ngx_string("coze_access_token"), NULL,
      ngx_http_coze_auth_token_var, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_token_expires"), NULL,
      ngx_http_coze_auth_expires_var, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_user_id"), NULL,
      ngx_http_coze_auth_session_var,
      offsetof(ngx_http_coze_auth_session_t, user_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_user_name"), NULL,
      ngx_http_coze_auth_session_var,
      offsetof(ngx_http_coze_auth_session_t, user_name),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_nick_name"), NULL,
      ngx_http_coze_auth_session_var,
      offsetof(ngx_http_coze_auth_session_t, nick_name),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_avatar_url"), NULL,
      ngx_http_coze_auth_session_var,
      offsetof(ngx_http_coze_auth_session_t, avatar_url),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coze_auth_result"), NULL,
      ngx_http_coze_auth_result_var, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_coze_auth_results[] = {
    ngx_null_string,
    ngx_string("ok"),
    ngx_string("refreshed"),
    ngx_string("anonymous"),
    ngx_string("invalid"),
    ngx_string("expired"),
    ngx_string("error")
};


ngx_int_t
ngx_http_coze_auth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_coze_auth_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_http_coze_auth_ctx_t *
ngx_http_coze_auth_var_ctx(ngx_http_request_t *r)
{
    ngx_http_coze_auth_ctx_t       *ctx;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coze_auth_module);

    if (ctx && (ctx->session_checked || ctx->access_token.len)) {
        return ctx;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (alcf->keyring == NULL) {
        return ctx;
    }

    /* e.g. in log_format after an internal redirect cleared the ctx */
    ctx = ngx_http_coze_auth_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ngx_http_coze_auth_session_load(r, ctx) == NGX_OK) {
        ctx->access_token.len = ctx->session.access_token.len;
        ctx->access_token.data = ctx->session.access_token.data;
    }

    return ctx;
}


static ngx_int_t
ngx_http_coze_auth_session_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_coze_auth_str_t  *s;
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ngx_http_coze_auth_var_ctx(r);

    if (ctx == NULL || !ctx->has_session) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_http_coze_auth_str_t *) ((char *) &ctx->session + data);

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_token_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ngx_http_coze_auth_var_ctx(r);

    if (ctx == NULL || ctx->access_token.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->access_token.len;
    v->data = ctx->access_token.data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_expires_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    int64_t                    expires;
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ngx_http_coze_auth_var_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    expires = ctx->has_session ? ctx->session.expires : ctx->expires;

    if (expires == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%L", expires) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_result_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ngx_http_coze_auth_var_ctx(r);

    if (ctx == NULL || ctx->result == NGX_HTTP_COZE_AUTH_R_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_coze_auth_results[ctx->result].len;
    v->data = ngx_http_coze_auth_results[ctx->result].data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Module definition: directives, configuration lifecycle, phase handler
 * registration and the per-worker outbound HTTP driver.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_conf.h"
#include "ngx_http_coze_auth_redis.h"


static ngx_int_t ngx_http_coze_auth_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_coze_auth_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_coze_auth_create_main_conf(ngx_conf_t *cf);
static void ngx_http_coze_auth_cleanup_crypto(void *data);
static void *ngx_http_coze_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_coze_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_coze_auth_init_process(ngx_cycle_t *cycle);
static void ngx_http_coze_auth_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_coze_auth_unauthenticated_enum[] = {
    { ngx_string("auto"), NGX_HTTP_COZE_AUTH_UNAUTH_AUTO },
    { ngx_string("redirect"), NGX_HTTP_COZE_AUTH_UNAUTH_REDIRECT },
    { ngx_string("401"), NGX_HTTP_COZE_AUTH_UNAUTH_401 },
    { ngx_string("pass"), NGX_HTTP_COZE_AUTH_UNAUTH_PASS },
    { ngx_null_string, 0 }
};


static ngx_http_coze_auth_sec_bounds_t  ngx_http_coze_auth_jwt_ttl_bounds = {
    ngx_http_coze_auth_sec_bounds, 1, 86399       /* Coze's limit */
};


static ngx_http_coze_auth_sec_bounds_t  ngx_http_coze_auth_positive_sec = {
    ngx_http_coze_auth_sec_bounds, 1, NGX_MAX_TIME_T_VALUE
};


static ngx_conf_post_t  ngx_http_coze_auth_positive_msec = {
    ngx_http_coze_auth_msec_positive
};


static ngx_command_t  ngx_http_coze_auth_commands[] = {

    { ngx_string("coze_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, enable),
      NULL },

    { ngx_string("coze_auth_app_config"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_app_config,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_client_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_client_type,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_client_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, client_id),
      NULL },

    { ngx_string("coze_auth_client_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, client_secret),
      NULL },

    { ngx_string("coze_auth_api_base"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_base_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, api_base),
      NULL },

    { ngx_string("coze_auth_www_base"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_base_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, www_base),
      NULL },

    { ngx_string("coze_auth_redirect_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_redirect_uri,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, redirect_uri),
      NULL },

    { ngx_string("coze_auth_workspace_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, workspace_id),
      NULL },

    { ngx_string("coze_auth_callback"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_coze_auth_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_COZE_AUTH_EP_CALLBACK,
      NULL },

    { ngx_string("coze_auth_logout"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_coze_auth_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_COZE_AUTH_EP_LOGOUT,
      NULL },

    { ngx_string("coze_auth_userinfo"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_coze_auth_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_COZE_AUTH_EP_USERINFO,
      NULL },

    { ngx_string("coze_auth_userinfo_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, userinfo_tokens),
      NULL },

    { ngx_string("coze_auth_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_coze_auth_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_COZE_AUTH_EP_STATUS,
      NULL },

    { ngx_string("coze_auth_revoke"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_coze_auth_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_COZE_AUTH_EP_REVOKE,
      NULL },

    { ngx_string("coze_auth_session_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_session_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_coze_auth_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_session_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, session_lifetime),
      &ngx_http_coze_auth_positive_sec },

    { ngx_string("coze_auth_session_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_sec_or_off,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, idle_timeout),
      NULL },

    { ngx_string("coze_auth_refresh_ahead"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, refresh_ahead),
      NULL },

    { ngx_string("coze_auth_refresh_result_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, refresh_result_ttl),
      NULL },

    { ngx_string("coze_auth_unauthenticated"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, unauthenticated),
      &ngx_http_coze_auth_unauthenticated_enum },

    { ngx_string("coze_auth_token_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_token_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, token_header),
      NULL },

    { ngx_string("coze_auth_strip_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, strip_cookie),
      NULL },

    { ngx_string("coze_auth_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, timeout),
      &ngx_http_coze_auth_positive_msec },

    { ngx_string("coze_auth_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_readable_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("coze_auth_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, ssl_verify),
      NULL },

    { ngx_string("coze_auth_proxy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, proxy),
      NULL },

    { ngx_string("coze_auth_jwt_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, jwt_ttl),
      &ngx_http_coze_auth_jwt_ttl_bounds },

    { ngx_string("coze_auth_jwt_session_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, jwt_session_name),
      NULL },

    { ngx_string("coze_auth_jwt_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, jwt_scope),
      NULL },

    { ngx_string("coze_auth_jwt_account_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, jwt_account_id),
      NULL },

    { ngx_string("coze_auth_jwt_enterprise_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, jwt_enterprise_id),
      NULL },

    { ngx_string("coze_auth_jwt_private_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_private_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_jwt_public_key_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, public_key_id),
      NULL },

    { ngx_string("coze_auth_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_token_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_coze_auth_loc_conf_t, static_token),
      NULL },

    { ngx_string("coze_auth_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_coze_auth_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coze_auth_session_store"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_coze_auth_session_store_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_coze_auth_module_ctx = {
    ngx_http_coze_auth_preconfiguration,   /* preconfiguration */
    ngx_http_coze_auth_postconfiguration,  /* postconfiguration */

    ngx_http_coze_auth_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_coze_auth_create_loc_conf,    /* create location configuration */
    ngx_http_coze_auth_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_coze_auth_module = {
    NGX_MODULE_V1,
    &ngx_http_coze_auth_module_ctx,        /* module context */
    ngx_http_coze_auth_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_coze_auth_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_coze_auth_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_coze_auth_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_coze_auth_add_variables(cf);
}


static ngx_int_t
ngx_http_coze_auth_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t                        name;
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_coze_auth_main_conf_t  *amcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_coze_auth_access_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coze_auth_module);

    /* log lines about calls to Coze carry the request's $request_id */
    ngx_str_set(&name, "request_id");

    amcf->request_id = ngx_http_get_variable_index(cf, &name);
    if (amcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* a libcurl that resolves names synchronously would block workers */
    if (amcf->used && ngx_http_coze_auth_curl_check_async_dns(cf->log)
                      != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (amcf->used && amcf->shm_zone == NULL) {
        /* the built-in zone: counters, refresh and token coordination */
        ngx_str_set(&name, "coze_auth");

        amcf->shm_zone = ngx_shared_memory_add(cf, &name, 1024 * 1024,
                                               &ngx_http_coze_auth_module);
        if (amcf->shm_zone == NULL) {
            return NGX_ERROR;
        }

        amcf->shm_zone->init = ngx_http_coze_auth_init_zone;
        amcf->shm_zone->data = amcf;
    }

    return NGX_OK;
}


static void *
ngx_http_coze_auth_create_main_conf(ngx_conf_t *cf)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_coze_auth_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /* runs before the module is unloaded: its cleanup was added earlier */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_coze_auth_cleanup_crypto;

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->random_used = 0;
     *     amcf->shm_zone = NULL;
     *     amcf->curl = NULL;
     */

    /* used only when no coze_auth_session_key is configured */
    if (ngx_http_coze_auth_random(amcf->random_key.key,
                                  NGX_HTTP_COZE_AUTH_KEY_LEN)
        != NGX_HTTP_COZE_AUTH_OK
        || ngx_http_coze_auth_key_init(&amcf->random_key,
                                       amcf->random_key.key,
                                       NGX_HTTP_COZE_AUTH_KEY_LEN)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NULL;
    }

    amcf->random_ring.keys = &amcf->random_key;
    amcf->random_ring.nkeys = 1;

    return amcf;
}


static void
ngx_http_coze_auth_cleanup_crypto(void *data)
{
    ngx_http_coze_auth_crypto_cleanup();
}


static void *
ngx_http_coze_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_coze_auth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->endpoint = NGX_HTTP_COZE_AUTH_EP_NONE;
     *     conf->app_config = { 0, NULL };
     *     conf->client_id = { 0, NULL };
     *     conf->client_secret = { 0, NULL };
     *     conf->api_base = { 0, NULL };
     *     conf->www_base = { 0, NULL };
     *     conf->token_url = { 0, NULL };
     *     conf->userinfo_url = { 0, NULL };
     *     conf->redirect_uri = { 0, NULL };
     *     conf->workspace_id = { 0, NULL };
     *     conf->public_key_id = { 0, NULL };
     *     conf->jwt_aud = { 0, NULL };
     *     conf->static_token = { 0, NULL };
     *     conf->client_type_src = { 0, NULL };
     *     conf->token_header = { 0, NULL };
     *     conf->logout_target = { 0, NULL };
     *     conf->ssl_trusted_certificate = { 0, NULL };
     *     conf->proxy = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->client_type = NGX_CONF_UNSET_UINT;
    conf->private_key = NGX_CONF_UNSET_PTR;
    conf->keyring = NGX_CONF_UNSET_PTR;
    conf->cookie = NGX_CONF_UNSET_PTR;
    conf->session_lifetime = NGX_CONF_UNSET;
    conf->idle_timeout = NGX_CONF_UNSET;
    conf->refresh_ahead = NGX_CONF_UNSET;
    conf->refresh_result_ttl = NGX_CONF_UNSET;
    conf->session_store = NGX_CONF_UNSET_UINT;
    conf->unauthenticated = NGX_CONF_UNSET_UINT;
    conf->strip_cookie = NGX_CONF_UNSET;
    conf->userinfo_tokens = NGX_CONF_UNSET;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->ssl_verify = NGX_CONF_UNSET;
    conf->jwt_ttl = NGX_CONF_UNSET;
    conf->jwt_session_name = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_coze_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_coze_auth_loc_conf_t *prev = parent;
    ngx_http_coze_auth_loc_conf_t *conf = child;

    ngx_http_coze_auth_loc_conf_t  *app_prev, none;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    /*
     * an app config file at this level describes another app: nothing of
     * the outer app (from a file or from directives) is inherited
     */
    if (conf->app == NULL) {
        conf->app = prev->app;
        conf->app_key = prev->app_key;
        app_prev = prev;

    } else {
        ngx_memzero(&none, sizeof(ngx_http_coze_auth_loc_conf_t));
        none.private_key = NULL;
        app_prev = &none;
    }

    ngx_conf_merge_str_value(conf->app_config, prev->app_config, "");
    ngx_conf_merge_uint_value(conf->client_type, app_prev->client_type, 0);
    ngx_conf_merge_str_value(conf->client_type_src,
                             app_prev->client_type_src, "");
    ngx_conf_merge_str_value(conf->client_id, app_prev->client_id, "");
    ngx_conf_merge_str_value(conf->client_secret, app_prev->client_secret,
                             "");
    ngx_conf_merge_str_value(conf->api_base, app_prev->api_base, "");
    ngx_conf_merge_str_value(conf->www_base, app_prev->www_base, "");
    ngx_conf_merge_str_value(conf->redirect_uri, prev->redirect_uri, "");
    ngx_conf_merge_str_value(conf->workspace_id, prev->workspace_id, "");
    ngx_conf_merge_str_value(conf->public_key_id, app_prev->public_key_id,
                             "");
    ngx_conf_merge_ptr_value(conf->private_key, app_prev->private_key, NULL);
    ngx_conf_merge_str_value(conf->static_token, prev->static_token, "");

    ngx_conf_merge_ptr_value(conf->keyring, prev->keyring, NULL);
    ngx_conf_merge_ptr_value(conf->cookie, prev->cookie, NULL);
    ngx_conf_merge_sec_value(conf->session_lifetime, prev->session_lifetime,
                             30 * 86400);
    ngx_conf_merge_sec_value(conf->idle_timeout, prev->idle_timeout, 0);
    ngx_conf_merge_sec_value(conf->refresh_ahead, prev->refresh_ahead, 60);
    ngx_conf_merge_sec_value(conf->refresh_result_ttl,
                             prev->refresh_result_ttl, 60);
    ngx_conf_merge_uint_value(conf->session_store, prev->session_store,
                              NGX_CONF_UNSET_UINT);

    if (ngx_http_coze_auth_redis_check(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_uint_value(conf->unauthenticated, prev->unauthenticated,
                              NGX_HTTP_COZE_AUTH_UNAUTH_AUTO);
    ngx_conf_merge_str_value(conf->token_header, prev->token_header,
                             "Authorization");
    ngx_conf_merge_value(conf->strip_cookie, prev->strip_cookie, 1);
    ngx_conf_merge_value(conf->userinfo_tokens, prev->userinfo_tokens, 0);

    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 10000);
    ngx_conf_merge_str_value(conf->ssl_trusted_certificate,
                             prev->ssl_trusted_certificate, "");
    ngx_conf_merge_value(conf->ssl_verify, prev->ssl_verify, 1);
    ngx_conf_merge_str_value(conf->proxy, prev->proxy, "");

    ngx_conf_merge_sec_value(conf->jwt_ttl, prev->jwt_ttl, 900);
    ngx_conf_merge_ptr_value(conf->jwt_session_name, prev->jwt_session_name,
                             NULL);
    ngx_conf_merge_str_value(conf->jwt_scope, prev->jwt_scope, "");
    ngx_conf_merge_str_value(conf->jwt_account_id, prev->jwt_account_id, "");
    ngx_conf_merge_str_value(conf->jwt_enterprise_id,
                             prev->jwt_enterprise_id, "");

    return ngx_http_coze_auth_finalize_conf(cf, conf);
}


static ngx_int_t
ngx_http_coze_auth_init_process(ngx_cycle_t *cycle)
{
    ngx_http_coze_auth_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_coze_auth_module);
    if (amcf == NULL) {
        return NGX_OK;
    }

    ngx_queue_init(&amcf->waiters);

    amcf->curl = ngx_http_coze_auth_curl_create(cycle);
    if (amcf->curl == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_coze_auth_redis_init_process(cycle, amcf);
}


static void
ngx_http_coze_auth_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_coze_auth_main_conf_t  *amcf;

    ngx_http_coze_auth_scache_flush();

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_coze_auth_module);
    if (amcf == NULL) {
        return;
    }

    ngx_http_coze_auth_redis_exit_process(amcf);

    if (amcf->curl == NULL) {
        return;
    }

    ngx_http_coze_auth_curl_destroy(amcf->curl);
    amcf->curl = NULL;
}

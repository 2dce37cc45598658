
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 */


#ifndef _NGX_HTTP_COZE_AUTH_CONF_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_CONF_H_INCLUDED_


#include "ngx_http_coze_auth_module.h"


typedef struct {
    ngx_conf_post_handler_pt        post_handler;
    time_t                          low;
    time_t                          high;
} ngx_http_coze_auth_sec_bounds_t;


char *ngx_http_coze_auth_sec_bounds(ngx_conf_t *cf, void *post, void *data);
char *ngx_http_coze_auth_msec_positive(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_coze_auth_enum_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_app_config(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_client_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_base_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_session_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_sec_or_off(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_token_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_readable_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_private_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_COZE_AUTH_CONF_H_INCLUDED_ */

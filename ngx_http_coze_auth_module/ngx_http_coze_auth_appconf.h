/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * The OAuth app config JSON downloaded from the Coze console
 * (coze_oauth_config.json, coze-oauth-spec.md section 9).
 */


#ifndef _NGX_HTTP_COZE_AUTH_APPCONF_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_APPCONF_H_INCLUDED_


#include "ngx_http_coze_auth_core.h"


/* config files longer than this are rejected */
#define NGX_HTTP_COZE_AUTH_APPCONF_MAX  1048576


typedef struct {
    ngx_http_coze_auth_str_t  client_type;
    ngx_http_coze_auth_str_t  client_id;
    ngx_http_coze_auth_str_t  client_secret;
    ngx_http_coze_auth_str_t  private_key;
    ngx_http_coze_auth_str_t  public_key_id;
    ngx_http_coze_auth_str_t  coze_api_base;
    ngx_http_coze_auth_str_t  coze_www_base;
} ngx_http_coze_auth_appconf_t;


/*
 * Missing (or null) keys are empty ({ 0, NULL }); present values are
 * NUL-terminated copies.  Unknown keys are ignored.  On error returns
 * NGX_HTTP_COZE_AUTH_ERROR with a message in err (which never contains
 * the value of a field).
 */
int ngx_http_coze_auth_appconf_parse(ngx_http_coze_auth_mem_t *mem,
    const unsigned char *json, size_t len, ngx_http_coze_auth_appconf_t *out,
    char *err, size_t errlen);

/*
 * Cross-field requirements of the client type (an empty client_type is
 * taken as "web", the module's default): NULL if fine, else a message.
 */
const char *ngx_http_coze_auth_appconf_check(
    const ngx_http_coze_auth_appconf_t *c);


#endif /* _NGX_HTTP_COZE_AUTH_APPCONF_H_INCLUDED_ */

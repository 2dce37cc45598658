
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Redis on the nginx event loop (hiredis's asynchronous API) and the
 * cross-node refresh coordination built on it.
 */


#ifndef _NGX_HTTP_COZE_AUTH_REDIS_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_REDIS_H_INCLUDED_


#include "ngx_http_coze_auth_module.h"


#define NGX_HTTP_COZE_AUTH_STORE_COOKIE   0
#define NGX_HTTP_COZE_AUTH_STORE_REDIS    1

/* reply types */
#define NGX_HTTP_COZE_AUTH_REDIS_NIL      0
#define NGX_HTTP_COZE_AUTH_REDIS_STRING   1
#define NGX_HTTP_COZE_AUTH_REDIS_STATUS   2
#define NGX_HTTP_COZE_AUTH_REDIS_INTEGER  3
#define NGX_HTTP_COZE_AUTH_REDIS_ERROR    4
#define NGX_HTTP_COZE_AUTH_REDIS_OTHER    5


typedef struct ngx_http_coze_auth_redis_conf_s  ngx_http_coze_auth_redis_conf_t;
typedef struct ngx_http_coze_auth_redis_s  ngx_http_coze_auth_redis_t;


struct ngx_http_coze_auth_redis_conf_s {
    ngx_str_t                       name;           /* as configured */
    u_char                         *host;           /* numeric, or a path */
    int                             port;           /* 0: unix socket */
    ngx_uint_t                      db;
    ngx_str_t                       password;
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;
    ngx_flag_t                      sessions;       /* some use it for them */
};


typedef struct {
    ngx_uint_t                      type;
    ngx_str_t                       str;            /* string, status, error */
    int64_t                         integer;
} ngx_http_coze_auth_redis_reply_t;


/* reply NULL: no answer (Redis unavailable, timed out, connection lost) */
typedef void (*ngx_http_coze_auth_redis_pt)(void *data,
    ngx_http_coze_auth_redis_reply_t *reply);


char *ngx_http_coze_auth_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coze_auth_session_store_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_coze_auth_redis_check(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *alcf);

ngx_int_t ngx_http_coze_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coze_auth_main_conf_t *amcf);
void ngx_http_coze_auth_redis_exit_process(
    ngx_http_coze_auth_main_conf_t *amcf);

ngx_int_t ngx_http_coze_auth_redis_up(ngx_http_coze_auth_main_conf_t *amcf);
void *ngx_http_coze_auth_redis_command(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);
void *ngx_http_coze_auth_redis_command_queued(
    ngx_http_coze_auth_main_conf_t *amcf, ngx_http_coze_auth_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
void ngx_http_coze_auth_redis_cancel(void *cmd);
void ngx_http_coze_auth_redis_script(const char **argv, size_t *argvlen,
    const char *script, size_t len, const char *nkeys);

/* cross-node refresh: NGX_DECLINED means "no Redis, start t yourself" */
ngx_int_t ngx_http_coze_auth_redis_refresh(ngx_http_coze_auth_task_t *t,
    ngx_str_t *url, ngx_str_t *body, ngx_str_t *bearer,
    ngx_http_coze_auth_task_pt done);
void ngx_http_coze_auth_redis_refresh_publish(ngx_http_coze_auth_task_t *t,
    ngx_uint_t state, u_char *data, size_t len, int64_t expires,
    time_t keep);

/* server-side sessions (redis_session.c) */
ngx_int_t ngx_http_coze_auth_rsession_fetch(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_rsession_load(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_rsession_save(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_rsession_create(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_step_pt next);
ngx_int_t ngx_http_coze_auth_rsession_created(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_rsession_destroy(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_http_coze_auth_step_pt next);
ngx_int_t ngx_http_coze_auth_rsession_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_revoke_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COZE_AUTH_REDIS_H_INCLUDED_ */

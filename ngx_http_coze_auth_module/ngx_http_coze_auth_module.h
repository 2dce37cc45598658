
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Shared types of the nginx glue: configuration, request context.
 */


#ifndef _NGX_HTTP_COZE_AUTH_MODULE_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>

#include "ngx_http_coze_auth_core.h"
#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_codec.h"
#include "ngx_http_coze_auth_appconf.h"
#include "ngx_http_coze_auth_curl.h"


#define NGX_HTTP_COZE_AUTH_WEB            1
#define NGX_HTTP_COZE_AUTH_PKCE           2
#define NGX_HTTP_COZE_AUTH_JWT            3
#define NGX_HTTP_COZE_AUTH_TOKEN          4

#define NGX_HTTP_COZE_AUTH_UNAUTH_AUTO      0
#define NGX_HTTP_COZE_AUTH_UNAUTH_REDIRECT  1
#define NGX_HTTP_COZE_AUTH_UNAUTH_401       2
#define NGX_HTTP_COZE_AUTH_UNAUTH_PASS      3

#define NGX_HTTP_COZE_AUTH_SECURE_AUTO    0
#define NGX_HTTP_COZE_AUTH_SECURE_ON      1
#define NGX_HTTP_COZE_AUTH_SECURE_OFF     2

/* location roles set by the endpoint directives */
#define NGX_HTTP_COZE_AUTH_EP_NONE        0
#define NGX_HTTP_COZE_AUTH_EP_CALLBACK    1
#define NGX_HTTP_COZE_AUTH_EP_LOGOUT      2
#define NGX_HTTP_COZE_AUTH_EP_USERINFO    3
#define NGX_HTTP_COZE_AUTH_EP_STATUS      4
#define NGX_HTTP_COZE_AUTH_EP_REVOKE      5

/* server-side session lookups (redis_session.c) */
#define NGX_HTTP_COZE_AUTH_RS_NEW         0
#define NGX_HTTP_COZE_AUTH_RS_PENDING     1
#define NGX_HTTP_COZE_AUTH_RS_DONE        2
#define NGX_HTTP_COZE_AUTH_RS_DOWN        3     /* Redis did not answer */

/* $coze_auth_result */
#define NGX_HTTP_COZE_AUTH_R_NONE         0
#define NGX_HTTP_COZE_AUTH_R_OK           1
#define NGX_HTTP_COZE_AUTH_R_REFRESHED    2
#define NGX_HTTP_COZE_AUTH_R_ANONYMOUS    3
#define NGX_HTTP_COZE_AUTH_R_INVALID      4
#define NGX_HTTP_COZE_AUTH_R_EXPIRED      5
#define NGX_HTTP_COZE_AUTH_R_ERROR        6

#define NGX_HTTP_COZE_AUTH_MAX_KEYS       8
#define NGX_HTTP_COZE_AUTH_STATE_TTL      600
#define NGX_HTTP_COZE_AUTH_MAX_FLOWS      4
#define NGX_HTTP_COZE_AUTH_MAX_COOKIE     4096
#define NGX_HTTP_COZE_AUTH_MAX_RESPONSE   (256 * 1024)

/* calls to Coze */
#define NGX_HTTP_COZE_AUTH_CALL_TOKEN     0
#define NGX_HTTP_COZE_AUTH_CALL_USER      1
#define NGX_HTTP_COZE_AUTH_CALL_REFRESH   2
#define NGX_HTTP_COZE_AUTH_CALL_JWT       3

/* counters (status.c) */
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_STARTED      0
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_DONE         1
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_STATE   2
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_DENIED  3
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_TOKEN   4
#define NGX_HTTP_COZE_AUTH_ST_LOGIN_FAIL_USER    5
#define NGX_HTTP_COZE_AUTH_ST_REFRESH_DONE       6
#define NGX_HTTP_COZE_AUTH_ST_REFRESH_SHARED     7
#define NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_DEAD  8
#define NGX_HTTP_COZE_AUTH_ST_REFRESH_FAIL_TEMP  9
#define NGX_HTTP_COZE_AUTH_ST_JWT_MINTED         10
#define NGX_HTTP_COZE_AUTH_ST_JWT_REUSED         11
#define NGX_HTTP_COZE_AUTH_ST_JWT_FAILED         12
#define NGX_HTTP_COZE_AUTH_ST_SESSION_TAMPERED   13
#define NGX_HTTP_COZE_AUTH_ST_SESSION_KEY        14
#define NGX_HTTP_COZE_AUTH_ST_SESSION_EXPIRED    15
#define NGX_HTTP_COZE_AUTH_ST_SESSION_IDLE       16
#define NGX_HTTP_COZE_AUTH_ST_UNAUTHENTICATED    17
#define NGX_HTTP_COZE_AUTH_ST_SESSION_ENDED      18  /* gone from Redis */
#define NGX_HTTP_COZE_AUTH_ST_STORE_DOWN         19
#define NGX_HTTP_COZE_AUTH_ST_REVOKED            20
#define NGX_HTTP_COZE_AUTH_ST_N                  21

/* calls to Coze: outcome and latency histogram per endpoint */
#define NGX_HTTP_COZE_AUTH_CALLS                 4
#define NGX_HTTP_COZE_AUTH_OUT_OK                0  /* 2xx */
#define NGX_HTTP_COZE_AUTH_OUT_ERROR             1  /* Coze said no */
#define NGX_HTTP_COZE_AUTH_OUT_TIMEOUT           2
#define NGX_HTTP_COZE_AUTH_OUT_NETWORK           3  /* connect, TLS, reset */
#define NGX_HTTP_COZE_AUTH_OUTCOMES              4
#define NGX_HTTP_COZE_AUTH_BUCKETS               11


typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       state_prefix;   /* name + "_st_" */
    ngx_str_t                       attrs;          /* "; Path=/..." */
    ngx_str_t                       state_attrs;    /* never Strict */
    ngx_uint_t                      secure;
} ngx_http_coze_auth_cookie_conf_t;


typedef struct {
    ngx_http_coze_auth_key_t       *keys;           /* first one seals */
    ngx_uint_t                      nkeys;
} ngx_http_coze_auth_keyring_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     lru;
    ngx_atomic_t                    counters[NGX_HTTP_COZE_AUTH_ST_N];
    ngx_atomic_t                    calls[NGX_HTTP_COZE_AUTH_CALLS]
                                         [NGX_HTTP_COZE_AUTH_OUTCOMES];
    ngx_atomic_t                    latency[NGX_HTTP_COZE_AUTH_CALLS]
                                           [NGX_HTTP_COZE_AUTH_BUCKETS + 1];
    ngx_atomic_t                    latency_ms[NGX_HTTP_COZE_AUTH_CALLS];
    ngx_atomic_t                    in_flight;
    ngx_atomic_t                    evictions;
    ngx_atomic_t                    records;
} ngx_http_coze_auth_shctx_t;


typedef struct {
    ngx_http_coze_auth_keyring_t    random_ring;    /* no key configured */
    ngx_http_coze_auth_key_t        random_key;
    ngx_flag_t                      random_used;

    ngx_flag_t                      used;
    ngx_int_t                       request_id;     /* variable index */
    void                           *diag_type_app;  /* warned about */

    /* configuration diagnostics: each server is told once */
    ngx_http_core_srv_conf_t       *diag_redirect_srv;
    u_char                         *diag_redirect_uri;
    ngx_http_core_srv_conf_t       *diag_cookie_srv;

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_coze_auth_shctx_t     *sh;
    ngx_slab_pool_t                *shpool;
    ngx_http_coze_auth_curl_t      *curl;           /* per worker */
    ngx_queue_t                     waiters;        /* per worker */

    /* coze_auth_redis (redis.c) */
    struct ngx_http_coze_auth_redis_conf_s  *redis_conf;
    struct ngx_http_coze_auth_redis_s       *redis;    /* per worker */
} ngx_http_coze_auth_main_conf_t;


typedef struct {
    ngx_flag_t                      enable;
    ngx_uint_t                      endpoint;

    /* the Coze app */
    ngx_http_coze_auth_appconf_t   *app;
    EVP_PKEY                       *app_key;
    ngx_str_t                       app_config;
    ngx_uint_t                      client_type;
    ngx_str_t                       client_id;
    ngx_str_t                       client_secret;
    ngx_str_t                       api_base;
    ngx_str_t                       www_base;
    ngx_str_t                       token_url;
    ngx_str_t                       userinfo_url;
    ngx_str_t                       redirect_uri;
    ngx_str_t                       workspace_id;
    ngx_str_t                       public_key_id;
    EVP_PKEY                       *private_key;
    ngx_str_t                       jwt_aud;
    ngx_str_t                       static_token;

    /* where each credential came from, to name it in errors */
    ngx_str_t                       client_type_src;

    /* session */
    ngx_http_coze_auth_keyring_t   *keyring;
    ngx_http_coze_auth_cookie_conf_t  *cookie;
    time_t                          session_lifetime;
    time_t                          idle_timeout;
    time_t                          refresh_ahead;
    time_t                          refresh_result_ttl;
    ngx_uint_t                      session_store;  /* redis.c */

    /* request behaviour */
    ngx_uint_t                      unauthenticated;
    ngx_str_t                       token_header;
    ngx_flag_t                      strip_cookie;
    ngx_flag_t                      userinfo_tokens;
    ngx_str_t                       logout_target;

    /* calls to Coze */
    ngx_msec_t                      timeout;
    ngx_str_t                       ssl_trusted_certificate;
    ngx_flag_t                      ssl_verify;
    ngx_str_t                       proxy;

    /* jwt apps */
    time_t                          jwt_ttl;
    ngx_http_complex_value_t       *jwt_session_name;
    ngx_str_t                       jwt_scope;
    ngx_str_t                       jwt_account_id;
    ngx_str_t                       jwt_enterprise_id;
} ngx_http_coze_auth_loc_conf_t;


/* shared records (store.c) */
#define NGX_HTTP_COZE_AUTH_REC_LOCK       0      /* in flight, no value */
#define NGX_HTTP_COZE_AUTH_REC_VALUE      1
#define NGX_HTTP_COZE_AUTH_REC_DEAD       2      /* refresh token refused */
#define NGX_HTTP_COZE_AUTH_REC_RETRY      3      /* transient failure */

#define NGX_HTTP_COZE_AUTH_REC_MAX        1024


typedef struct {
    u_char                         *data;           /* caller's buffer */
    size_t                          size;
    size_t                          len;
    ngx_uint_t                      state;
    int64_t                         expires;
    time_t                          margin;         /* renew ahead */
    ngx_uint_t                      renewing;       /* 2: yours to renew */
} ngx_http_coze_auth_rec_value_t;


typedef struct ngx_http_coze_auth_ctx_s  ngx_http_coze_auth_ctx_t;

typedef void (*ngx_http_coze_auth_step_pt)(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);

typedef struct ngx_http_coze_auth_task_s  ngx_http_coze_auth_task_t;

typedef void (*ngx_http_coze_auth_task_pt)(ngx_http_coze_auth_task_t *t);

struct ngx_http_coze_auth_ctx_s {
    ngx_http_request_t             *request;

    /* the session as opened from the cookie (or just created) */
    ngx_http_coze_auth_session_t    session;
    unsigned                        session_checked:1;
    unsigned                        has_session:1;
    unsigned                        reseal:1;
    unsigned                        waiting:1;
    unsigned                        force_refresh:1;
    unsigned                        in_flight:1;
    unsigned                        initiated:1;
    unsigned                        refreshed:1;
    ngx_uint_t                      result;

    /* waiting for another request's refresh or token */
    ngx_http_coze_auth_main_conf_t *amcf;
    u_char                          hash[32];
    ngx_queue_t                     wait_queue;
    ngx_event_t                     poll;
    ngx_msec_t                      wait_deadline;
    unsigned                        queued:1;
    unsigned                        wait_timed_out:1;
    ngx_str_t                       session_name;

    /* asynchronous call to Coze */
    ngx_http_coze_auth_xfer_t       xfer;
    ngx_event_t                     resume;
    ngx_event_t                     deadline;
    ngx_uint_t                      endpoint;
    ngx_http_coze_auth_step_pt      handler;

    /* login in progress (callback) */
    ngx_http_coze_auth_state_t      state;
    ngx_str_t                       state_cookie;   /* its name */
    ngx_str_t                       access_token;
    ngx_str_t                       refresh_token;
    int64_t                         expires;

    /* server-side session (redis_session.c) */
    ngx_uint_t                      rs_state;
    void                           *rs_cmd;
    ngx_event_t                     rs_event;
    ngx_http_coze_auth_step_pt      rs_next;
    u_char                          rs_id[32];
    ngx_str_t                       rs_key;         /* its Redis key */
    ngx_str_t                       rs_member;      /* in the user's set */
    ngx_str_t                       rs_user;        /* revoke */
    ngx_str_t                       rs_value;       /* reply */
    int64_t                         rs_integer;     /* reply */
    unsigned                        rs_found:1;
    unsigned                        rs_invalid:1;
    unsigned                        rs_key_error:1;
    unsigned                        rs_old_key:1;   /* re-seal the cookie */
};


/* a call to Coze that belongs to no request (task.c) */
struct ngx_http_coze_auth_task_s {
    ngx_pool_t                     *pool;
    ngx_http_coze_auth_main_conf_t *amcf;
    ngx_http_coze_auth_loc_conf_t  *alcf;
    ngx_http_coze_auth_xfer_t       xfer;
    ngx_event_t                     deadline;
    ngx_event_t                     finish;
    ngx_uint_t                      endpoint;
    u_char                          hash[32];
    ngx_str_t                       request_id;
    ngx_http_coze_auth_task_pt      done;
    ngx_uint_t                      renewing;       /* jwt: a value exists */
};


extern ngx_module_t  ngx_http_coze_auth_module;


static ngx_inline void *
ngx_http_coze_auth_pool_alloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


#define ngx_http_coze_auth_mem_init(mem, p)                                  \
    (mem)->alloc = ngx_http_coze_auth_pool_alloc; (mem)->pool = (p)

/* an ngx_str_t seen as a core string (same members, no aliasing games) */
#define ngx_http_coze_auth_str(s)                                            \
    (&(ngx_http_coze_auth_str_t) { (s)->len, (s)->data })


/* conf.c */
char *ngx_http_coze_auth_finalize_conf(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf);

/* session.c */
void ngx_http_coze_auth_scache_flush(void);
ngx_int_t ngx_http_coze_auth_session_load(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_session_store(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_session_cookie(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_str_t *ad, u_char *plain, size_t len);
ngx_int_t ngx_http_coze_auth_session_check(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t old_key);
ngx_int_t ngx_http_coze_auth_cookie_get(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_coze_auth_cookie_set(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, time_t max_age);
ngx_int_t ngx_http_coze_auth_state_clear(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_int_t ngx_http_coze_auth_state_begin(ngx_http_request_t *r,
    ngx_http_coze_auth_state_t *st);
ngx_int_t ngx_http_coze_auth_state_find(ngx_http_request_t *r,
    ngx_str_t *state, ngx_http_coze_auth_state_t *st, ngx_str_t *cookie);
ngx_int_t ngx_http_coze_auth_strip_cookies(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_coze_auth_header_in(ngx_http_request_t *r,
    const char *name);
ngx_int_t ngx_http_coze_auth_value_is(ngx_table_elt_t *h, const char *value);
ngx_table_elt_t *ngx_http_coze_auth_header_out(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);
ngx_int_t ngx_http_coze_auth_set_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_coze_auth_scheme_secure(ngx_http_request_t *r);

/* call.c */
ngx_int_t ngx_http_coze_auth_call(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t endpoint, ngx_str_t *url,
    ngx_str_t *body, ngx_str_t *bearer, ngx_http_coze_auth_step_pt handler);
void ngx_http_coze_auth_log_call(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
const char *ngx_http_coze_auth_xfer_result(ngx_uint_t result);

/* task.c */
ngx_http_coze_auth_task_t *ngx_http_coze_auth_task_create(
    ngx_http_request_t *r, ngx_http_coze_auth_ctx_t *ctx,
    ngx_uint_t endpoint);
ngx_int_t ngx_http_coze_auth_task_start(ngx_http_coze_auth_task_t *t,
    ngx_str_t *url, ngx_str_t *body, ngx_str_t *bearer,
    ngx_http_coze_auth_task_pt done);
void ngx_http_coze_auth_task_abort(ngx_http_coze_auth_task_t *t);

/* status.c */
void ngx_http_coze_auth_stat_inc(ngx_http_request_t *r, ngx_uint_t n);
void ngx_http_coze_auth_stat_add(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_uint_t n);
void ngx_http_coze_auth_stat_call_amcf(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_uint_t endpoint, ngx_http_coze_auth_xfer_t *x);
void ngx_http_coze_auth_stat_call(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_http_coze_auth_xfer_t *x);
void ngx_http_coze_auth_stat_flight(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_int_t delta);

/* handler.c */
ngx_int_t ngx_http_coze_auth_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_is_api(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_login_url(ngx_http_request_t *r,
    ngx_str_t *return_to, ngx_str_t *url);
ngx_int_t ngx_http_coze_auth_login_start(ngx_http_request_t *r,
    ngx_str_t *return_to);
ngx_int_t ngx_http_coze_auth_redirect(ngx_http_request_t *r, u_char *url,
    size_t len);
ngx_int_t ngx_http_coze_auth_redirect_uri_abs(ngx_http_request_t *r,
    ngx_str_t *uri);

/* login.c */
ngx_int_t ngx_http_coze_auth_callback_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_logout_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_userinfo_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_error_page(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, ngx_str_t *text);
ngx_int_t ngx_http_coze_auth_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);
ngx_int_t ngx_http_coze_auth_query(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
void ngx_http_coze_auth_log_safe(ngx_str_t *s);

/* refresh.c */
ngx_int_t ngx_http_coze_auth_refresh(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);

/* service.c */
ngx_int_t ngx_http_coze_auth_service_token(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);

/* store.c */
ngx_int_t ngx_http_coze_auth_store_get(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash, ngx_http_coze_auth_rec_value_t *v, ngx_uint_t lock,
    time_t busy_for);
ngx_int_t ngx_http_coze_auth_store_put(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash, ngx_uint_t state, u_char *data, size_t len,
    int64_t value_expires, time_t keep);
void ngx_http_coze_auth_store_unlock(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash);
void ngx_http_coze_auth_store_key(u_char *hash, const char *purpose,
    ngx_str_t *a, ngx_str_t *b);

/* call.c: waiting for a shared record */
void ngx_http_coze_auth_run_phases(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
ngx_int_t ngx_http_coze_auth_wait(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx);
void ngx_http_coze_auth_wake(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash);
ngx_int_t ngx_http_coze_auth_seal_value(ngx_http_coze_auth_loc_conf_t *alcf,
    const char *purpose, u_char *in, size_t len, u_char *out,
    size_t *out_len);
ngx_int_t ngx_http_coze_auth_open_value(ngx_http_request_t *r,
    const char *purpose, u_char *in, size_t len, ngx_str_t *out);

/* status.c */
ngx_int_t ngx_http_coze_auth_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coze_auth_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/* call.c */
ngx_http_coze_auth_ctx_t *ngx_http_coze_auth_get_ctx(ngx_http_request_t *r);

/* variables.c */
ngx_int_t ngx_http_coze_auth_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_COZE_AUTH_MODULE_H_INCLUDED_ */

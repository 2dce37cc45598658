
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Per-worker HTTP client: libcurl's multi-socket API driven by nginx's
 * event loop and timers.  It knows nothing about OAuth: a caller fills an
 * xfer, starts it and gets done() called once, from the event loop, unless
 * it cancels first.  This header does not include <curl/curl.h>; only
 * ngx_http_coze_auth_curl.c does.
 */


#ifndef _NGX_HTTP_COZE_AUTH_CURL_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_http_coze_auth_curl_s  ngx_http_coze_auth_curl_t;
typedef struct ngx_http_coze_auth_xfer_s  ngx_http_coze_auth_xfer_t;

typedef void (*ngx_http_coze_auth_xfer_done_pt)(ngx_http_coze_auth_xfer_t *x);


#define NGX_HTTP_COZE_AUTH_XFER_OK        0
#define NGX_HTTP_COZE_AUTH_XFER_TIMEOUT   1
#define NGX_HTTP_COZE_AUTH_XFER_CONNECT   2   /* refused, unreachable, DNS */
#define NGX_HTTP_COZE_AUTH_XFER_TLS       3   /* certificate / handshake */
#define NGX_HTTP_COZE_AUTH_XFER_TOO_BIG   4   /* response over max_body */
#define NGX_HTTP_COZE_AUTH_XFER_FAILED    5   /* reset, protocol, other */

#define NGX_HTTP_COZE_AUTH_XFER_MAX_BODY  (1024 * 1024)


/*
 * The caller owns the xfer (e.g. inside its request context) and must keep
 * it, and every string it points to, alive until done() runs or until it
 * cancels.  start() registers a cleanup on x->pool, so destroying that pool
 * (the client went away) cancels the transfer; the xfer should therefore
 * be allocated from x->pool or from something that outlives it.
 *
 * An xfer may be started again after done() or cancel(): the results are
 * reset by start().  A zeroed xfer that was never started may be cancelled.
 */

struct ngx_http_coze_auth_xfer_s {
    /* set by the caller */
    ngx_pool_t                      *pool;      /* results allocated here */
    ngx_log_t                       *log;
    ngx_str_t                        method;    /* "GET" (default), "POST" */
    ngx_str_t                        url;
    ngx_array_t                     *headers;   /* of ngx_str_t "Name: v" */
    ngx_str_t                        body;      /* sent as is, not copied */
    ngx_msec_t                       timeout;   /* whole transfer, 0: 10s */
    ngx_str_t                        ca_file;   /* empty: system CAs */
    ngx_flag_t                       ssl_verify; /* peer and host name */
    ngx_flag_t                       fresh;     /* new connection: never
                                                   resent by libcurl */
    ngx_str_t                        proxy;     /* empty: none, no env */
    size_t                           max_body;  /* 0: 1 MiB */
    ngx_http_coze_auth_xfer_done_pt  done;
    void                            *data;

    /* results, valid in done() */
    ngx_uint_t                       result;    /* XFER_OK ... XFER_FAILED */
    ngx_uint_t                       status;    /* HTTP status, 0 if none */
    ngx_str_t                        response;  /* body, NUL-terminated */
    ngx_str_t                        content_type;
    ngx_str_t                        logid;     /* X-Tt-Logid */
    ngx_str_t                        error;     /* libcurl's text, for logs */
    ngx_msec_t                       elapsed;

    /* private to the driver */
    ngx_http_coze_auth_curl_t       *drv;
    void                            *easy;      /* CURL * */
    void                            *slist;     /* struct curl_slist * */
    ngx_pool_cleanup_t              *cln;
    u_char                          *errbuf;
    u_char                          *buf;       /* response buffer */
    size_t                           size;      /* its capacity */
    size_t                           limit;
    ngx_msec_t                       start;
    ngx_queue_t                      queue;     /* in drv->xfers */
    unsigned                         active:1;
    unsigned                         too_big:1;
    unsigned                         no_memory:1;
    unsigned                         sock_failed:1;
};


/*
 * init_process: curl_global_init(), a multi handle and its callbacks.
 * Returns NULL, after an EMERG or ALERT naming the reason, if libcurl lacks
 * asynchronous DNS or cannot be set up.
 */
ngx_http_coze_auth_curl_t *ngx_http_coze_auth_curl_create(ngx_cycle_t *cycle);

/* exit_process: cancels every transfer (no done() calls), frees all */
void ngx_http_coze_auth_curl_destroy(ngx_http_coze_auth_curl_t *drv);

/*
 * NGX_OK: done() will be called later from the event loop (never from
 * within start()), unless cancel() comes first.
 * NGX_ERROR: nothing started, done() will not be called, x->error says why.
 */
ngx_int_t ngx_http_coze_auth_curl_start(ngx_http_coze_auth_curl_t *drv,
    ngx_http_coze_auth_xfer_t *x);

/* safe to call twice, after done(), or on a zeroed xfer */
void ngx_http_coze_auth_curl_cancel(ngx_http_coze_auth_xfer_t *x);

ngx_uint_t ngx_http_coze_auth_curl_in_flight(ngx_http_coze_auth_curl_t *drv);

/* NGX_OK or NGX_ERROR after an EMERG; usable at configuration time too */
ngx_int_t ngx_http_coze_auth_curl_check_async_dns(ngx_log_t *log);


#endif /* _NGX_HTTP_COZE_AUTH_CURL_H_INCLUDED_ */

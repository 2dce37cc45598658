
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libcurl's multi-socket API driven by nginx events (style guide §3.8).
 *
 * - CURLMOPT_SOCKETFUNCTION wraps each curl socket in an nginx connection
 *   (ngx_get_connection) and registers level-triggered read/write events:
 *   curl, not nginx, reads the socket, so nginx's edge-triggered "ready"
 *   bookkeeping would be wrong.  curl owns the fd: we never close it, we
 *   only remove it from the event module (flags 0: a real epoll_ctl DEL or
 *   MOD) and free the connection on CURL_POLL_REMOVE.
 * - CURLMOPT_TIMERFUNCTION drives one cancelable nginx timer; a zero
 *   timeout posts the timer event instead, so curl is never called from
 *   inside one of its own callbacks.
 * - An event handler passes curl the direction that fired, then drains
 *   curl_multi_info_read(): each finished handle is removed and cleaned up
 *   before x->done(x) runs, so done() may start or cancel transfers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <curl/curl.h>

#include "ngx_http_coze_auth_core.h"
#include "ngx_http_coze_auth_curl.h"


#define NGX_HTTP_COZE_AUTH_CURL_TIMEOUT        10000
#define NGX_HTTP_COZE_AUTH_CURL_CONNECT        5000
#define NGX_HTTP_COZE_AUTH_CURL_MAXCONNECTS    128
#define NGX_HTTP_COZE_AUTH_CURL_MAX_HEADER     1024

#define NGX_HTTP_COZE_AUTH_CURL_UA                                           \
    "ngx_http_coze_auth_module/" NGX_HTTP_COZE_AUTH_VERSION


/*
 * libcurl's OpenSSL backend may leave errors in the thread's OpenSSL error
 * queue (SSL_shutdown() of a connection cancelled mid-handshake, a CA file
 * it cannot open, ...).  nginx shares that queue and reports leftovers as
 * "ignoring stale global SSL error" alerts on its next TLS operation, so
 * the queue is emptied after each curl call that may do TLS work.  curl
 * clears it itself before its own TLS calls.
 */

#if (NGX_OPENSSL)
#define ngx_http_coze_auth_curl_clear_ssl_errors()  ERR_clear_error()
#else
#define ngx_http_coze_auth_curl_clear_ssl_errors()
#endif


struct ngx_http_coze_auth_curl_s {
    CURLM                           *multi;
    ngx_log_t                       *log;
    ngx_queue_t                      xfers;     /* started, not finished */
    ngx_queue_t                      conns;     /* our curl connections */
    ngx_uint_t                       in_flight;
    ngx_event_t                      timer;     /* CURLMOPT_TIMERFUNCTION */
    ngx_event_t                      sweep;     /* fails sock_failed xfers */

    /* ev->data of the two events above, for ngx_event_ident() */
    ngx_connection_t                 dummy;
};


static int ngx_http_coze_auth_curl_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static int ngx_http_coze_auth_curl_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_http_coze_auth_curl_sock_failed(ngx_http_coze_auth_curl_t *drv,
    CURL *easy);
static void ngx_http_coze_auth_curl_close(ngx_connection_t *c);
static void ngx_http_coze_auth_curl_event_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_curl_timer_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_curl_sweep_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_curl_process(ngx_http_coze_auth_curl_t *drv);
static void ngx_http_coze_auth_curl_finish(ngx_http_coze_auth_xfer_t *x,
    CURLcode code);
static void ngx_http_coze_auth_curl_release(ngx_http_coze_auth_xfer_t *x);
static void ngx_http_coze_auth_curl_cleanup(void *data);
static ngx_int_t ngx_http_coze_auth_curl_setup(ngx_http_coze_auth_xfer_t *x,
    CURL *easy, const char **failed);
static ngx_int_t ngx_http_coze_auth_curl_headers(ngx_http_coze_auth_xfer_t *x);
static void ngx_http_coze_auth_curl_free_slist(struct curl_slist *slist);
static u_char *ngx_http_coze_auth_curl_cstr(ngx_pool_t *pool, ngx_str_t *s);
static size_t ngx_http_coze_auth_curl_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static size_t ngx_http_coze_auth_curl_header(char *buffer, size_t size,
    size_t nitems, void *userdata);
static ngx_int_t ngx_http_coze_auth_curl_header_value(
    ngx_http_coze_auth_xfer_t *x, u_char *p, u_char *last, ngx_str_t *name,
    ngx_str_t *value);
static ngx_uint_t ngx_http_coze_auth_curl_result(ngx_http_coze_auth_xfer_t *x,
    CURLcode code);


ngx_int_t
ngx_http_coze_auth_curl_check_async_dns(ngx_log_t *log)
{
    curl_version_info_data  *info;

    info = curl_version_info(CURLVERSION_NOW);

    if (info == NULL || !(info->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "coze auth: libcurl %s is built without asynchronous "
                      "DNS (CURL_VERSION_ASYNCHDNS), its name resolution "
                      "would block the nginx worker",
                      info ? info->version : "(unknown)");
        return NGX_ERROR;
    }

    if (info->version_num < 0x075700) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "coze auth: libcurl %s predates CURLOPT_QUICK_EXIT "
                      "(7.87.0), cancelling a transfer during name "
                      "resolution may wait for the resolver thread",
                      info->version);
    }

    return NGX_OK;
}


ngx_http_coze_auth_curl_t *
ngx_http_coze_auth_curl_create(ngx_cycle_t *cycle)
{
    CURLcode                    rc;
    CURLMcode                   mc;
    ngx_http_coze_auth_curl_t  *drv;

    if (ngx_http_coze_auth_curl_check_async_dns(cycle->log) != NGX_OK) {
        return NULL;
    }

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "coze auth: curl_global_init() failed: %s",
                      curl_easy_strerror(rc));
        return NULL;
    }

    drv = ngx_pcalloc(cycle->pool, sizeof(ngx_http_coze_auth_curl_t));
    if (drv == NULL) {
        goto failed;
    }

    drv->log = cycle->log;
    ngx_queue_init(&drv->xfers);
    ngx_queue_init(&drv->conns);

    drv->dummy.fd = (ngx_socket_t) -1;
    drv->dummy.data = drv;
    drv->dummy.log = cycle->log;

    drv->timer.handler = ngx_http_coze_auth_curl_timer_handler;
    drv->timer.data = &drv->dummy;
    drv->timer.log = cycle->log;
    drv->timer.cancelable = 1;

    drv->sweep.handler = ngx_http_coze_auth_curl_sweep_handler;
    drv->sweep.data = &drv->dummy;
    drv->sweep.log = cycle->log;

    drv->multi = curl_multi_init();
    if (drv->multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "coze auth: curl_multi_init() failed");
        goto failed;
    }

    mc = curl_multi_setopt(drv->multi, CURLMOPT_SOCKETFUNCTION,
                           ngx_http_coze_auth_curl_socket);
    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(drv->multi, CURLMOPT_SOCKETDATA, drv);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(drv->multi, CURLMOPT_TIMERFUNCTION,
                               ngx_http_coze_auth_curl_timer);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(drv->multi, CURLMOPT_TIMERDATA, drv);
    }

    /* idle keep-alive connections kept for reuse, per worker */

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(drv->multi, CURLMOPT_MAXCONNECTS,
                               (long) NGX_HTTP_COZE_AUTH_CURL_MAXCONNECTS);
    }

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "coze auth: curl_multi_setopt() failed: %s",
                      curl_multi_strerror(mc));
        goto failed;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, cycle->log, 0,
                   "coze auth curl: driver started, %s",
                   curl_version());

    return drv;

failed:

    if (drv && drv->multi) {
        (void) curl_multi_cleanup(drv->multi);
        ngx_http_coze_auth_curl_clear_ssl_errors();
    }

    curl_global_cleanup();

    return NULL;
}


void
ngx_http_coze_auth_curl_destroy(ngx_http_coze_auth_curl_t *drv)
{
    ngx_queue_t                *q;
    ngx_connection_t           *c;
    ngx_http_coze_auth_xfer_t  *x;

    if (drv == NULL || drv->multi == NULL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, drv->log, 0,
                   "coze auth curl: driver stopping, %ui in flight",
                   drv->in_flight);

    while (!ngx_queue_empty(&drv->xfers)) {
        q = ngx_queue_head(&drv->xfers);
        x = ngx_queue_data(q, ngx_http_coze_auth_xfer_t, queue);
        ngx_http_coze_auth_curl_cancel(x);
    }

    /* closes cached connections; may call the socket callback */

    (void) curl_multi_cleanup(drv->multi);
    drv->multi = NULL;

    ngx_http_coze_auth_curl_clear_ssl_errors();

    while (!ngx_queue_empty(&drv->conns)) {
        q = ngx_queue_head(&drv->conns);
        c = ngx_queue_data(q, ngx_connection_t, queue);

        ngx_log_error(NGX_LOG_ALERT, drv->log, 0,
                      "coze auth curl: socket %d left after cleanup", c->fd);

        ngx_http_coze_auth_curl_close(c);
    }

    if (drv->timer.timer_set) {
        ngx_del_timer(&drv->timer);
    }

    if (drv->timer.posted) {
        ngx_delete_posted_event(&drv->timer);
    }

    if (drv->sweep.posted) {
        ngx_delete_posted_event(&drv->sweep);
    }

    curl_global_cleanup();
}


ngx_uint_t
ngx_http_coze_auth_curl_in_flight(ngx_http_coze_auth_curl_t *drv)
{
    return drv ? drv->in_flight : 0;
}


ngx_int_t
ngx_http_coze_auth_curl_start(ngx_http_coze_auth_curl_t *drv,
    ngx_http_coze_auth_xfer_t *x)
{
    CURL        *easy;
    CURLMcode    mc;
    const char  *failed;

    x->result = NGX_HTTP_COZE_AUTH_XFER_FAILED;
    x->status = 0;
    ngx_str_null(&x->response);
    ngx_str_null(&x->content_type);
    ngx_str_null(&x->logid);
    ngx_str_null(&x->error);
    x->elapsed = 0;

    if (x->active || x->done == NULL) {
        ngx_log_error(NGX_LOG_ALERT, x->log, 0,
                      "coze auth curl: transfer already started or "
                      "without done()");
        ngx_str_set(&x->error, "invalid transfer");
        return NGX_ERROR;
    }

    if (drv == NULL || drv->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, x->log, 0,
                      "coze auth curl: driver is not running");
        ngx_str_set(&x->error, "curl driver is not running");
        return NGX_ERROR;
    }

    x->drv = drv;
    x->easy = NULL;
    x->slist = NULL;
    x->buf = NULL;
    x->size = 0;
    x->limit = x->max_body ? x->max_body : NGX_HTTP_COZE_AUTH_XFER_MAX_BODY;
    x->too_big = 0;
    x->no_memory = 0;
    x->sock_failed = 0;

    /* allocated first: nothing below can fail after curl took the handle */

    x->cln = ngx_pool_cleanup_add(x->pool, 0);
    if (x->cln == NULL) {
        ngx_str_set(&x->error, "out of memory");
        return NGX_ERROR;
    }

    x->errbuf = ngx_pcalloc(x->pool, CURL_ERROR_SIZE);
    if (x->errbuf == NULL) {
        ngx_str_set(&x->error, "out of memory");
        return NGX_ERROR;
    }

    easy = curl_easy_init();
    if (easy == NULL) {
        ngx_log_error(NGX_LOG_ALERT, x->log, 0,
                      "coze auth curl: curl_easy_init() failed");
        ngx_str_set(&x->error, "curl_easy_init() failed");
        return NGX_ERROR;
    }

    x->easy = easy;

    if (ngx_http_coze_auth_curl_setup(x, easy, &failed) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, x->log, 0,
                      "coze auth curl: setting %s failed", failed);
        ngx_str_set(&x->error, "curl_easy_setopt() failed");
        goto failed;
    }

    mc = curl_multi_add_handle(drv->multi, easy);
    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, x->log, 0,
                      "coze auth curl: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mc));
        ngx_str_set(&x->error, "curl_multi_add_handle() failed");
        goto failed;
    }

    x->start = ngx_current_msec;
    x->active = 1;
    x->cln->handler = ngx_http_coze_auth_curl_cleanup;
    x->cln->data = x;

    ngx_queue_insert_tail(&drv->xfers, &x->queue);
    drv->in_flight++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, x->log, 0,
                   "coze auth curl: start %p %V %V, %ui in flight",
                   x, &x->method, &x->url, drv->in_flight);

    return NGX_OK;

failed:

    curl_easy_cleanup(easy);
    x->easy = NULL;

    ngx_http_coze_auth_curl_free_slist(x->slist);
    x->slist = NULL;

    return NGX_ERROR;
}


void
ngx_http_coze_auth_curl_cancel(ngx_http_coze_auth_xfer_t *x)
{
    if (!x->active) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, x->log, 0,
                   "coze auth curl: cancel %p", x);

    ngx_http_coze_auth_curl_release(x);
}


static ngx_int_t
ngx_http_coze_auth_curl_setup(ngx_http_coze_auth_xfer_t *x, CURL *easy,
    const char **failed)
{
    long       timeout, connect;
    u_char    *p;
    CURLcode   rc;

#define ngx_http_coze_auth_curl_set(option, value)                           \
    rc = curl_easy_setopt(easy, option, value);                              \
    if (rc != CURLE_OK) {                                                    \
        *failed = #option;                                                   \
        return NGX_ERROR;                                                    \
    }

    timeout = (long) (x->timeout ? x->timeout
                                 : NGX_HTTP_COZE_AUTH_CURL_TIMEOUT);
    connect = ngx_min(timeout, NGX_HTTP_COZE_AUTH_CURL_CONNECT);

    ngx_http_coze_auth_curl_set(CURLOPT_PRIVATE, x);
    ngx_http_coze_auth_curl_set(CURLOPT_ERRORBUFFER, (char *) x->errbuf);
    ngx_http_coze_auth_curl_set(CURLOPT_NOSIGNAL, 1L);
    ngx_http_coze_auth_curl_set(CURLOPT_TIMEOUT_MS, timeout);
    ngx_http_coze_auth_curl_set(CURLOPT_CONNECTTIMEOUT_MS, connect);

#if (LIBCURL_VERSION_NUM >= 0x075700)
    /*
     * Without it, removing a handle while the threaded resolver still runs
     * waits for getaddrinfo() to return (Curl_resolver_kill), blocking the
     * worker; with it the resolver thread is detached instead.  Not
     * fatal if the runtime library is older than the headers.
     */
    (void) curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
#endif

#if (LIBCURL_VERSION_NUM >= 0x075500)
    ngx_http_coze_auth_curl_set(CURLOPT_PROTOCOLS_STR, "http,https");
    ngx_http_coze_auth_curl_set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    ngx_http_coze_auth_curl_set(CURLOPT_PROTOCOLS,
                                (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
    ngx_http_coze_auth_curl_set(CURLOPT_REDIR_PROTOCOLS,
                                (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
#endif

    ngx_http_coze_auth_curl_set(CURLOPT_FOLLOWLOCATION, 0L);
    ngx_http_coze_auth_curl_set(CURLOPT_USERAGENT,
                                NGX_HTTP_COZE_AUTH_CURL_UA);
    ngx_http_coze_auth_curl_set(CURLOPT_MAXFILESIZE_LARGE,
                                (curl_off_t) x->limit);

    ngx_http_coze_auth_curl_set(CURLOPT_WRITEFUNCTION,
                                ngx_http_coze_auth_curl_write);
    ngx_http_coze_auth_curl_set(CURLOPT_WRITEDATA, x);
    ngx_http_coze_auth_curl_set(CURLOPT_HEADERFUNCTION,
                                ngx_http_coze_auth_curl_header);
    ngx_http_coze_auth_curl_set(CURLOPT_HEADERDATA, x);

    p = ngx_http_coze_auth_curl_cstr(x->pool, &x->url);
    if (p == NULL) {
        *failed = "CURLOPT_URL (no memory)";
        return NGX_ERROR;
    }

    ngx_http_coze_auth_curl_set(CURLOPT_URL, (char *) p);

    /* method and body */

    if (x->method.len == 0
        || (x->method.len == 3
            && ngx_strncmp(x->method.data, "GET", 3) == 0))
    {
        ngx_http_coze_auth_curl_set(CURLOPT_HTTPGET, 1L);

    } else {
        if (x->method.len == 4 && ngx_strncmp(x->method.data, "POST", 4) == 0)
        {
            ngx_http_coze_auth_curl_set(CURLOPT_POST, 1L);

        } else {
            p = ngx_http_coze_auth_curl_cstr(x->pool, &x->method);
            if (p == NULL) {
                *failed = "CURLOPT_CUSTOMREQUEST (no memory)";
                return NGX_ERROR;
            }

            ngx_http_coze_auth_curl_set(CURLOPT_CUSTOMREQUEST, (char *) p);
        }

        /* not copied by curl: x->body lives as long as the xfer */

        ngx_http_coze_auth_curl_set(CURLOPT_POSTFIELDSIZE_LARGE,
                                    (curl_off_t) x->body.len);
        ngx_http_coze_auth_curl_set(CURLOPT_POSTFIELDS,
                                    x->body.len ? (char *) x->body.data
                                                : (char *) "");
    }

    if (ngx_http_coze_auth_curl_headers(x) != NGX_OK) {
        *failed = "CURLOPT_HTTPHEADER (no memory)";
        return NGX_ERROR;
    }

    ngx_http_coze_auth_curl_set(CURLOPT_HTTPHEADER,
                                (struct curl_slist *) x->slist);

    /*
     * libcurl sends a request again when a reused connection turns out
     * dead before any answer; for a single-use credential that second
     * copy would be refused if the first was processed
     */
    if (x->fresh) {
        ngx_http_coze_auth_curl_set(CURLOPT_FRESH_CONNECT, 1L);
    }

    /* TLS */

    ngx_http_coze_auth_curl_set(CURLOPT_SSL_VERIFYPEER,
                                x->ssl_verify ? 1L : 0L);
    ngx_http_coze_auth_curl_set(CURLOPT_SSL_VERIFYHOST,
                                x->ssl_verify ? 2L : 0L);

    if (x->ca_file.len) {
        p = ngx_http_coze_auth_curl_cstr(x->pool, &x->ca_file);
        if (p == NULL) {
            *failed = "CURLOPT_CAINFO (no memory)";
            return NGX_ERROR;
        }

        /* the file replaces the system store, like nginx's own directives */

        ngx_http_coze_auth_curl_set(CURLOPT_CAINFO, (char *) p);
        ngx_http_coze_auth_curl_set(CURLOPT_CAPATH, (char *) NULL);
    }

    /*
     * An empty CURLOPT_PROXY disables proxies, including the http_proxy,
     * https_proxy and all_proxy environment variables: nginx's environment
     * is not configuration, only the directive is.
     */

    if (x->proxy.len) {
        p = ngx_http_coze_auth_curl_cstr(x->pool, &x->proxy);
        if (p == NULL) {
            *failed = "CURLOPT_PROXY (no memory)";
            return NGX_ERROR;
        }

    } else {
        p = (u_char *) "";
    }

    ngx_http_coze_auth_curl_set(CURLOPT_PROXY, (char *) p);

#undef ngx_http_coze_auth_curl_set

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_curl_headers(ngx_http_coze_auth_xfer_t *x)
{
    size_t              len;
    u_char             *tmp;
    ngx_str_t          *h;
    ngx_uint_t          i;
    struct curl_slist  *slist, *next;

    /* no "Expect: 100-continue" round trip for larger POST bodies */

    slist = curl_slist_append(NULL, "Expect:");
    if (slist == NULL) {
        return NGX_ERROR;
    }

    x->slist = slist;

    if (x->headers == NULL || x->headers->nelts == 0) {
        return NGX_OK;
    }

    h = x->headers->elts;

    len = 0;
    for (i = 0; i < x->headers->nelts; i++) {
        len = ngx_max(len, h[i].len);
    }

    /* one scratch buffer, wiped afterwards: headers may carry secrets */

    tmp = ngx_pnalloc(x->pool, len + 1);
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < x->headers->nelts; i++) {
        ngx_memcpy(tmp, h[i].data, h[i].len);
        tmp[h[i].len] = '\0';

        next = curl_slist_append(slist, (char *) tmp);

        ngx_explicit_memzero(tmp, h[i].len);

        if (next == NULL) {
            return NGX_ERROR;
        }

        slist = next;
    }

    return NGX_OK;
}


static void
ngx_http_coze_auth_curl_free_slist(struct curl_slist *slist)
{
    struct curl_slist  *s;

    for (s = slist; s; s = s->next) {
        if (s->data) {
            ngx_explicit_memzero(s->data, ngx_strlen(s->data));
        }
    }

    curl_slist_free_all(slist);
}


static u_char *
ngx_http_coze_auth_curl_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


static int
ngx_http_coze_auth_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_http_coze_auth_curl_t *drv = userp;

    ngx_event_t       *rev, *wev;
    ngx_connection_t  *c;

    c = socketp;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, drv->log, 0,
                   "coze auth curl: socket %d what %d conn %p", s, what, c);

    if (what == CURL_POLL_REMOVE) {

        /*
         * curl deletes its socket entry, socketp included, right after
         * this callback returns, so no curl_multi_assign(NULL) is needed
         */

        if (c) {
            ngx_http_coze_auth_curl_close(c);
        }

        return 0;
    }

    if (c == NULL) {
        c = ngx_get_connection(s, drv->log);
        if (c == NULL) {
            goto failed;
        }

        c->data = drv;
        c->log = drv->log;
        c->read->log = drv->log;
        c->write->log = drv->log;
        c->read->handler = ngx_http_coze_auth_curl_event_handler;
        c->write->handler = ngx_http_coze_auth_curl_event_handler;

        ngx_queue_insert_tail(&drv->conns, &c->queue);

        if (curl_multi_assign(drv->multi, s, c) != CURLM_OK) {
            ngx_http_coze_auth_curl_close(c);
            goto failed;
        }
    }

    rev = c->read;
    wev = c->write;

    /*
     * Level-triggered (NGX_LEVEL_EVENT, 0 on epoll and kqueue).  With
     * epoll, adding one direction while the other is active is an
     * EPOLL_CTL_MOD of both, and deleting one while the other is active is
     * an EPOLL_CTL_MOD to the other: flags 0 keep that one level-triggered.
     * An event is only added when inactive and deleted when active, which
     * keeps epoll's ADD/MOD/DEL choice in step with the kernel.
     */

    if ((what & CURL_POLL_IN) && !rev->active) {
        if (ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            goto failed;
        }

    } else if (!(what & CURL_POLL_IN) && rev->active) {
        if (ngx_del_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            goto failed;
        }
    }

    if ((what & CURL_POLL_OUT) && !wev->active) {
        if (ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            goto failed;
        }

    } else if (!(what & CURL_POLL_OUT) && wev->active) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            goto failed;
        }
    }

    /* a posted event for a direction curl no longer waits for is stale */

    if (!rev->active && rev->posted) {
        ngx_delete_posted_event(rev);
    }

    if (!wev->active && wev->posted) {
        ngx_delete_posted_event(wev);
    }

    return 0;

failed:

    /*
     * Returning -1 would make curl fail every transfer of the multi handle;
     * fail only this one, from a posted event, outside curl's callback.
     */

    ngx_http_coze_auth_curl_sock_failed(drv, easy);

    return 0;
}


static void
ngx_http_coze_auth_curl_sock_failed(ngx_http_coze_auth_curl_t *drv,
    CURL *easy)
{
    char                       *priv;
    ngx_http_coze_auth_xfer_t  *x;

    priv = NULL;

    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK
        || priv == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, drv->log, 0,
                      "coze auth curl: cannot watch a socket of an "
                      "internal handle");
        return;
    }

    x = (ngx_http_coze_auth_xfer_t *) priv;

    if (!x->active) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, x->log, 0,
                  "coze auth curl: cannot watch the socket of a transfer");

    x->sock_failed = 1;

    ngx_post_event(&drv->sweep, &ngx_posted_events);
}


static void
ngx_http_coze_auth_curl_close(ngx_connection_t *c)
{
    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "coze auth curl: release socket %d", c->fd);

    /* flags 0, not NGX_CLOSE_EVENT: the fd stays open, curl owns it */

    if (c->read->active || c->write->active) {
        if (ngx_del_conn) {
            (void) ngx_del_conn(c, 0);

        } else {
            if (c->read->active) {
                (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
            }

            if (c->write->active) {
                (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
            }
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_queue_remove(&c->queue);

    ngx_free_connection(c);

    /*
     * stale events still queued for this connection in the current
     * epoll_wait() batch, and the worker's exit check, see fd -1
     */

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_coze_auth_curl_event_handler(ngx_event_t *ev)
{
    int                         running, mask;
    CURLMcode                   mc;
    curl_socket_t               s;
    ngx_connection_t           *c;
    ngx_http_coze_auth_curl_t  *drv;

    c = ev->data;
    drv = c->data;
    s = c->fd;

    /*
     * The direction comes from the event that fired, not from the "ready"
     * flags: nginx never clears those here, curl does the reading.
     * (c->close from worker_shutdown_timeout is ignored: curl sees an
     * ordinary event, exit_process cancels what is left.)
     */

    mask = ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN;

    if (ev->error) {
        mask |= CURL_CSELECT_ERR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                   "coze auth curl: event on %d mask %d", s, mask);

    /* c may be freed from here on */

    mc = curl_multi_socket_action(drv->multi, s, mask, &running);

    ngx_http_coze_auth_curl_clear_ssl_errors();

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, drv->log, 0,
                      "coze auth curl: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mc));
    }

    ngx_http_coze_auth_curl_process(drv);
}


static int
ngx_http_coze_auth_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_http_coze_auth_curl_t *drv = userp;

    (void) multi;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, drv->log, 0,
                   "coze auth curl: timer %l", timeout_ms);

    if (drv->timer.timer_set) {
        ngx_del_timer(&drv->timer);
    }

    if (timeout_ms != 0 && drv->timer.posted) {
        ngx_delete_posted_event(&drv->timer);
    }

    if (timeout_ms < 0) {
        return 0;
    }

    if (timeout_ms == 0) {
        /* not "now": we may be inside curl_multi_add_handle() or the like */
        ngx_post_event(&drv->timer, &ngx_posted_events);
        return 0;
    }

    ngx_add_timer(&drv->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_http_coze_auth_curl_timer_handler(ngx_event_t *ev)
{
    int                         running;
    CURLMcode                   mc;
    ngx_connection_t           *dummy;
    ngx_http_coze_auth_curl_t  *drv;

    dummy = ev->data;
    drv = dummy->data;

    ev->timedout = 0;

    if (drv->multi == NULL) {
        return;
    }

    mc = curl_multi_socket_action(drv->multi, CURL_SOCKET_TIMEOUT, 0,
                                  &running);

    ngx_http_coze_auth_curl_clear_ssl_errors();

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, drv->log, 0,
                      "coze auth curl: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(mc));
    }

    ngx_http_coze_auth_curl_process(drv);
}


static void
ngx_http_coze_auth_curl_sweep_handler(ngx_event_t *ev)
{
    ngx_queue_t                *q;
    ngx_connection_t           *dummy;
    ngx_http_coze_auth_curl_t  *drv;
    ngx_http_coze_auth_xfer_t  *x;

    dummy = ev->data;
    drv = dummy->data;

    /* done() may start or cancel transfers: rescan after each one */

    for ( ;; ) {

        x = NULL;

        for (q = ngx_queue_head(&drv->xfers);
             q != ngx_queue_sentinel(&drv->xfers);
             q = ngx_queue_next(q))
        {
            x = ngx_queue_data(q, ngx_http_coze_auth_xfer_t, queue);

            if (x->sock_failed) {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&drv->xfers)) {
            return;
        }

        ngx_http_coze_auth_curl_finish(x, CURLE_COULDNT_CONNECT);
    }
}


static void
ngx_http_coze_auth_curl_process(ngx_http_coze_auth_curl_t *drv)
{
    int                         left;
    char                       *priv;
    CURL                       *easy;
    CURLMsg                    *msg;
    CURLcode                    code;
    ngx_http_coze_auth_xfer_t  *x;

    while (drv->multi) {

        msg = curl_multi_info_read(drv->multi, &left);
        if (msg == NULL) {
            return;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        code = msg->data.result;

        priv = NULL;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);

        x = (ngx_http_coze_auth_xfer_t *) priv;

        if (x == NULL || !x->active || x->easy != easy) {
            ngx_log_error(NGX_LOG_ALERT, drv->log, 0,
                          "coze auth curl: unknown finished handle %p",
                          easy);
            (void) curl_multi_remove_handle(drv->multi, easy);
            ngx_http_coze_auth_curl_clear_ssl_errors();
            continue;
        }

        ngx_http_coze_auth_curl_finish(x, code);
    }
}


static void
ngx_http_coze_auth_curl_finish(ngx_http_coze_auth_xfer_t *x, CURLcode code)
{
    CURL    *easy;
    long     status;
    size_t   len;

    easy = x->easy;

    status = 0;
    (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

    x->status = status > 0 ? (ngx_uint_t) status : 0;
    x->result = ngx_http_coze_auth_curl_result(x, code);
    x->elapsed = ngx_current_msec - x->start;

    if (x->buf) {
        x->response.data = x->buf;
        x->buf[x->response.len] = '\0';

    } else {
        x->response.data = (u_char *) "";
        x->response.len = 0;
    }

    if (x->result != NGX_HTTP_COZE_AUTH_XFER_OK) {
        len = ngx_strlen(x->errbuf);

        if (x->sock_failed) {
            ngx_str_set(&x->error, "cannot watch the socket "
                                   "(worker_connections?)");

        } else if (x->no_memory) {
            ngx_str_set(&x->error, "out of memory");

        } else if (x->too_big) {
            ngx_str_set(&x->error, "response body is larger than max_body");

        } else if (len) {
            x->error.data = x->errbuf;
            x->error.len = len;

        } else {
            x->error.data = (u_char *) curl_easy_strerror(code);
            x->error.len = ngx_strlen(x->error.data);
        }
    }

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, x->log, 0,
                   "coze auth curl: done %p result %ui status %ui "
                   "body %uz in %Mms \"%V\"",
                   x, x->result, x->status, x->response.len, x->elapsed,
                   &x->error);

    ngx_http_coze_auth_curl_release(x);

    /* x may be gone after this */

    x->done(x);
}


static void
ngx_http_coze_auth_curl_release(ngx_http_coze_auth_xfer_t *x)
{
    ngx_http_coze_auth_curl_t  *drv;

    drv = x->drv;

    x->active = 0;
    x->cln->handler = NULL;

    ngx_queue_remove(&x->queue);
    drv->in_flight--;

    /*
     * May call the socket callback (CURL_POLL_REMOVE of a connection that
     * cannot be reused) and the timer callback; neither calls back into
     * curl, so this is safe from anywhere outside curl's own callbacks.
     */

    (void) curl_multi_remove_handle(drv->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;

    ngx_http_coze_auth_curl_clear_ssl_errors();

    ngx_http_coze_auth_curl_free_slist(x->slist);
    x->slist = NULL;
}


static void
ngx_http_coze_auth_curl_cleanup(void *data)
{
    ngx_http_coze_auth_xfer_t *x = data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, x->log, 0,
                   "coze auth curl: pool cleanup cancels %p", x);

    ngx_http_coze_auth_curl_cancel(x);
}


static size_t
ngx_http_coze_auth_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_coze_auth_xfer_t *x = userdata;

    size_t   n, want;
    u_char  *p;

    n = size * nmemb;

    if (n > x->limit - x->response.len) {
        x->too_big = 1;
        return 0;
    }

    /* one byte more than the data, for the terminating NUL */

    if (x->buf == NULL || x->response.len + n >= x->size) {
        want = ngx_max(x->size * 2, 1024);
        want = ngx_max(want, x->response.len + n + 1);
        want = ngx_min(want, x->limit + 1);

        p = ngx_pnalloc(x->pool, want);
        if (p == NULL) {
            x->no_memory = 1;
            return 0;
        }

        if (x->buf) {
            ngx_memcpy(p, x->buf, x->response.len);
            ngx_explicit_memzero(x->buf, x->response.len);
            (void) ngx_pfree(x->pool, x->buf);
        }

        x->buf = p;
        x->size = want;
    }

    ngx_memcpy(x->buf + x->response.len, ptr, n);
    x->response.len += n;

    return n;
}


static size_t
ngx_http_coze_auth_curl_header(char *buffer, size_t size, size_t nitems,
    void *userdata)
{
    ngx_http_coze_auth_xfer_t *x = userdata;

    size_t      n;
    u_char     *p, *last;
    ngx_str_t   name;

    n = size * nitems;
    p = (u_char *) buffer;
    last = p + n;

    /* a new response (e.g. after "100 Continue"): forget earlier headers */

    if (n >= 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {
        ngx_str_null(&x->content_type);
        ngx_str_null(&x->logid);
        return n;
    }

    ngx_str_set(&name, "Content-Type:");

    if (ngx_http_coze_auth_curl_header_value(x, p, last, &name,
                                             &x->content_type)
        != NGX_OK)
    {
        return 0;
    }

    ngx_str_set(&name, "X-Tt-Logid:");

    if (ngx_http_coze_auth_curl_header_value(x, p, last, &name, &x->logid)
        != NGX_OK)
    {
        return 0;
    }

    return n;
}


static ngx_int_t
ngx_http_coze_auth_curl_header_value(ngx_http_coze_auth_xfer_t *x, u_char *p,
    u_char *last, ngx_str_t *name, ngx_str_t *value)
{
    size_t   len;
    u_char  *v;

    if ((size_t) (last - p) < name->len
        || ngx_strncasecmp(p, name->data, name->len) != 0)
    {
        return NGX_OK;
    }

    p += name->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p
           && (last[-1] == '\r' || last[-1] == '\n'
               || last[-1] == ' ' || last[-1] == '\t'))
    {
        last--;
    }

    len = last - p;

    if (len > NGX_HTTP_COZE_AUTH_CURL_MAX_HEADER) {
        /* not something Coze sends; ignored rather than truncated */
        return NGX_OK;
    }

    v = ngx_pnalloc(x->pool, len);
    if (v == NULL) {
        x->no_memory = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(v, p, len);

    value->data = v;
    value->len = len;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_coze_auth_curl_result(ngx_http_coze_auth_xfer_t *x, CURLcode code)
{
    if (x->sock_failed) {
        return NGX_HTTP_COZE_AUTH_XFER_FAILED;
    }

    switch (code) {

    case CURLE_OK:
        return NGX_HTTP_COZE_AUTH_XFER_OK;

    case CURLE_OPERATION_TIMEDOUT:
        return NGX_HTTP_COZE_AUTH_XFER_TIMEOUT;

    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return NGX_HTTP_COZE_AUTH_XFER_CONNECT;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if (LIBCURL_VERSION_NUM >= 0x074900)
    case CURLE_SSL_CLIENTCERT:
#endif
        return NGX_HTTP_COZE_AUTH_XFER_TLS;

    case CURLE_FILESIZE_EXCEEDED:
        return NGX_HTTP_COZE_AUTH_XFER_TOO_BIG;

    case CURLE_WRITE_ERROR:
        if (x->too_big) {
            return NGX_HTTP_COZE_AUTH_XFER_TOO_BIG;
        }

        return NGX_HTTP_COZE_AUTH_XFER_FAILED;

    default:
        return NGX_HTTP_COZE_AUTH_XFER_FAILED;
    }
}

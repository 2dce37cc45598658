
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Calls to Coze on behalf of a request: builds the transfer, suspends
 * the request and resumes it from a posted event once libcurl is done.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_redis.h"


static void ngx_http_coze_auth_call_done(ngx_http_coze_auth_xfer_t *x);
static void ngx_http_coze_auth_deadline(ngx_event_t *ev);
static void ngx_http_coze_auth_resume(ngx_event_t *ev);
static void ngx_http_coze_auth_ctx_cleanup(void *data);
static void ngx_http_coze_auth_wait_over(ngx_event_t *ev);
static void ngx_http_coze_auth_unqueue(ngx_http_coze_auth_ctx_t *ctx);


static ngx_str_t  ngx_http_coze_auth_json_type =
    ngx_string("Content-Type: application/json");
static ngx_str_t  ngx_http_coze_auth_accept_json =
    ngx_string("Accept: application/json");


ngx_http_coze_auth_ctx_t *
ngx_http_coze_auth_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coze_auth_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_coze_auth_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->amcf = ngx_http_get_module_main_conf(r, ngx_http_coze_auth_module);

    /* data = ctx, not a lookup: internal redirects clear r->ctx */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_coze_auth_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_coze_auth_module);

    return ctx;
}


static void
ngx_http_coze_auth_ctx_cleanup(void *data)
{
    ngx_http_coze_auth_ctx_t  *ctx = data;

    ngx_http_coze_auth_curl_cancel(&ctx->xfer);

    if (ctx->in_flight) {
        ctx->in_flight = 0;
        ngx_http_coze_auth_stat_flight(ctx->amcf, -1);
    }

    if (ctx->resume.posted) {
        ngx_delete_posted_event(&ctx->resume);
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    if (ctx->rs_cmd) {
        ngx_http_coze_auth_redis_cancel(ctx->rs_cmd);
        ctx->rs_cmd = NULL;
    }

    if (ctx->rs_event.posted) {
        ngx_delete_posted_event(&ctx->rs_event);
    }

    ngx_http_coze_auth_unqueue(ctx);

    /*
     * ctx->access_token may point into the configuration (static tokens)
     * or into a shared buffer: the pool's memory is not wiped here
     */
}


/*
 * Starts one call to Coze.  "body" NULL means GET; "bearer" is the
 * client secret, a JWT or an access token (empty: no Authorization).
 * ctx->handler runs in the request's context when the call is over.
 */

ngx_int_t
ngx_http_coze_auth_call(ngx_http_request_t *r, ngx_http_coze_auth_ctx_t *ctx,
    ngx_uint_t endpoint, ngx_str_t *url, ngx_str_t *body, ngx_str_t *bearer,
    ngx_http_coze_auth_step_pt handler)
{
    ngx_str_t                       *h;
    ngx_http_coze_auth_xfer_t       *x;
    ngx_http_coze_auth_loc_conf_t   *alcf;
    ngx_http_coze_auth_main_conf_t  *amcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);
    amcf = ngx_http_get_module_main_conf(r, ngx_http_coze_auth_module);

    if (amcf->curl == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "coze auth: no outbound HTTP driver in this process");
        return NGX_ERROR;
    }

    x = &ctx->xfer;

    ngx_http_coze_auth_curl_cancel(x);
    ngx_memzero(x, sizeof(ngx_http_coze_auth_xfer_t));

    x->pool = r->pool;
    x->log = r->connection->log;
    x->url = *url;
    x->timeout = alcf->timeout;
    x->ca_file = alcf->ssl_trusted_certificate;
    x->ssl_verify = alcf->ssl_verify;
    x->proxy = alcf->proxy;
    x->max_body = NGX_HTTP_COZE_AUTH_MAX_RESPONSE;
    x->done = ngx_http_coze_auth_call_done;
    x->data = ctx;

    x->headers = ngx_array_create(r->pool, 3, sizeof(ngx_str_t));
    if (x->headers == NULL) {
        return NGX_ERROR;
    }

    h = ngx_array_push(x->headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_coze_auth_accept_json;

    if (body) {
        ngx_str_set(&x->method, "POST");
        x->body = *body;

        h = ngx_array_push(x->headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_coze_auth_json_type;

    } else {
        ngx_str_set(&x->method, "GET");
    }

    if (bearer && bearer->len) {
        h = ngx_array_push(x->headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->len = sizeof("Authorization: Bearer ") - 1 + bearer->len;
        h->data = ngx_pnalloc(r->pool, h->len);
        if (h->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ngx_cpymem(h->data, "Authorization: Bearer ",
                              sizeof("Authorization: Bearer ") - 1),
                   bearer->data, bearer->len);
    }

    ctx->endpoint = endpoint;
    ctx->handler = handler;
    ctx->waiting = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: calling %V %V", &x->method, &x->url);

    if (ngx_http_coze_auth_curl_start(amcf->curl, x) != NGX_OK) {
        ctx->waiting = 0;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "coze auth: cannot start a call to Coze: %V",
                      &x->error);
        return NGX_ERROR;
    }

    /*
     * libcurl enforces the timeout; this backstop is not cancelable, so
     * a worker that shuts down gracefully finishes the call first
     */
    ctx->deadline.handler = ngx_http_coze_auth_deadline;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;
    ctx->deadline.cancelable = 0;

    ngx_add_timer(&ctx->deadline, x->timeout + 1000);

    ngx_http_coze_auth_stat_flight(ctx->amcf, 1);
    ctx->in_flight = 1;

    return NGX_OK;
}


/* runs inside the driver: record and leave libcurl's stack */

static void
ngx_http_coze_auth_call_done(ngx_http_coze_auth_xfer_t *x)
{
    ngx_http_coze_auth_ctx_t  *ctx = x->data;

    ctx->waiting = 0;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    if (ctx->in_flight) {
        ctx->in_flight = 0;
        ngx_http_coze_auth_stat_flight(ctx->amcf, -1);
    }

    ctx->resume.handler = ngx_http_coze_auth_resume;
    ctx->resume.data = ctx;
    ctx->resume.log = ctx->request->connection->log;

    ngx_post_event(&ctx->resume, &ngx_posted_events);
}


static void
ngx_http_coze_auth_deadline(ngx_event_t *ev)
{
    ngx_http_coze_auth_ctx_t  *ctx = ev->data;

    ngx_http_coze_auth_curl_cancel(&ctx->xfer);

    ctx->xfer.result = NGX_HTTP_COZE_AUTH_XFER_TIMEOUT;
    ctx->xfer.status = 0;
    ngx_str_set(&ctx->xfer.error, "deadline passed");

    ngx_http_coze_auth_call_done(&ctx->xfer);
}


static void
ngx_http_coze_auth_resume(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_coze_auth_log_call(r, ctx);
    ngx_http_coze_auth_stat_call(r, ctx->endpoint, &ctx->xfer);

    ctx->handler(r, ctx);

    ngx_http_run_posted_requests(c);
}


/* one line per call: endpoint, status, latency, Coze's log id */

void
ngx_http_coze_auth_log_call(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_str_t                   id;
    ngx_http_variable_value_t  *vv;
    ngx_http_coze_auth_xfer_t  *x;
    static const char          *names[] = {
        "token", "users/me", "refresh", "jwt token"
    };

    x = &ctx->xfer;

    vv = ngx_http_get_indexed_variable(r, ctx->amcf->request_id);

    if (vv == NULL || vv->not_found) {
        ngx_str_null(&id);

    } else {
        id.len = vv->len;
        id.data = vv->data;
    }

    if (x->result == NGX_HTTP_COZE_AUTH_XFER_OK
        && x->status >= 200 && x->status < 300)
    {
        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "coze auth: %s call: status %ui, %M ms, "
                       "logid \"%V\", request_id %V", names[ctx->endpoint],
                       x->status, x->elapsed, &x->logid, &id);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "coze auth: %s call failed: status %ui, %M ms, %s%s%V, "
                  "logid \"%V\", request_id %V", names[ctx->endpoint],
                  x->status, x->elapsed,
                  ngx_http_coze_auth_xfer_result(x->result),
                  x->error.len ? ": " : "", &x->error, &x->logid, &id);
}


const char *
ngx_http_coze_auth_xfer_result(ngx_uint_t result)
{
    switch (result) {
    case NGX_HTTP_COZE_AUTH_XFER_OK:
        /* the transfer worked; the answer is an error */
        return "error answer";
    case NGX_HTTP_COZE_AUTH_XFER_TIMEOUT:
        return "timed out";
    case NGX_HTTP_COZE_AUTH_XFER_CONNECT:
        return "cannot connect";
    case NGX_HTTP_COZE_AUTH_XFER_TLS:
        return "TLS failure";
    case NGX_HTTP_COZE_AUTH_XFER_TOO_BIG:
        return "response too large";
    default:
        return "transfer failed";
    }
}


static void
ngx_http_coze_auth_unqueue(ngx_http_coze_auth_ctx_t *ctx)
{
    if (ctx->queued) {
        ngx_queue_remove(&ctx->wait_queue);
        ctx->queued = 0;
    }

    if (ctx->poll.timer_set) {
        ngx_del_timer(&ctx->poll);
    }

    if (ctx->poll.posted) {
        ngx_delete_posted_event(&ctx->poll);
    }
}


/*
 * Another request (this worker or another) is refreshing the same
 * session or minting the same token: wait for its record.  Requests of
 * this worker are woken at once; other workers' results are polled.
 */

ngx_int_t
ngx_http_coze_auth_wait(ngx_http_request_t *r, ngx_http_coze_auth_ctx_t *ctx)
{
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    if (!ctx->queued) {
        ngx_queue_insert_tail(&ctx->amcf->waiters, &ctx->wait_queue);
        ctx->queued = 1;
    }

    if (ctx->wait_deadline == 0) {
        ctx->wait_deadline = ngx_current_msec + alcf->timeout + 1000;
    }

    ctx->poll.handler = ngx_http_coze_auth_wait_over;
    ctx->poll.data = ctx;
    ctx->poll.log = r->connection->log;

    ngx_add_timer(&ctx->poll, 20);

    ctx->waiting = 1;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coze auth: waiting for another request's result");

    return NGX_AGAIN;
}


void
ngx_http_coze_auth_wake(ngx_http_coze_auth_main_conf_t *amcf, u_char *hash)
{
    ngx_queue_t               *q;
    ngx_http_coze_auth_ctx_t  *w;

    for (q = ngx_queue_head(&amcf->waiters);
         q != ngx_queue_sentinel(&amcf->waiters);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_coze_auth_ctx_t, wait_queue);

        if (ngx_memcmp(w->hash, hash, 32) != 0 || w->poll.posted) {
            continue;
        }

        if (w->poll.timer_set) {
            ngx_del_timer(&w->poll);
        }

        ngx_post_event(&w->poll, &ngx_posted_events);
    }
}


static void
ngx_http_coze_auth_wait_over(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_coze_auth_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_coze_auth_unqueue(ctx);

    if ((ngx_msec_int_t) (ngx_current_msec - ctx->wait_deadline) >= 0) {
        ctx->wait_timed_out = 1;
    }

    ngx_http_set_log_request(c->log, r);

    ngx_http_coze_auth_run_phases(r, ctx);

    ngx_http_run_posted_requests(c);
}


/* a request parked in the access phase goes on: the phase runs again */

void
ngx_http_coze_auth_run_phases(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx)
{
    ctx->waiting = 0;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


/* values in the shared zone are sealed like cookies */

ngx_int_t
ngx_http_coze_auth_seal_value(ngx_http_coze_auth_loc_conf_t *alcf,
    const char *purpose, u_char *in, size_t len, u_char *out,
    size_t *out_len)
{
    if (len + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD > NGX_HTTP_COZE_AUTH_REC_MAX
        || ngx_http_coze_auth_seal(&alcf->keyring->keys[0],
                                   (u_char *) purpose, ngx_strlen(purpose),
                                   in, len, out, out_len)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_coze_auth_open_value(ngx_http_request_t *r, const char *purpose,
    u_char *in, size_t len, ngx_str_t *out)
{
    size_t                          n;
    ngx_http_coze_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);

    out->data = ngx_pnalloc(r->pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    n = len;

    if (ngx_http_coze_auth_open(alcf->keyring->keys, alcf->keyring->nkeys,
                                (u_char *) purpose, ngx_strlen(purpose),
                                in, len, out->data, &n, NULL)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_DECLINED;
    }

    out->len = n;

    return NGX_OK;
}

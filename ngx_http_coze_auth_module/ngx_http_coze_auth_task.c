
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Background calls to Coze that must finish even when the request that
 * started them goes away: a refresh redeems a single-use refresh token,
 * a service token is shared by everyone.  A task owns its pool, publishes
 * its outcome in the shared zone and wakes the requests waiting for it.
 */


#include "ngx_http_coze_auth_module.h"


static void ngx_http_coze_auth_task_done(ngx_http_coze_auth_xfer_t *x);
static void ngx_http_coze_auth_task_deadline(ngx_event_t *ev);
static void ngx_http_coze_auth_task_finish(ngx_event_t *ev);


ngx_http_coze_auth_task_t *
ngx_http_coze_auth_task_create(ngx_http_request_t *r,
    ngx_http_coze_auth_ctx_t *ctx, ngx_uint_t endpoint)
{
    ngx_pool_t                 *pool;
    ngx_http_variable_value_t  *vv;
    ngx_http_coze_auth_task_t  *t;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    t = ngx_pcalloc(pool, sizeof(ngx_http_coze_auth_task_t));
    if (t == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    t->pool = pool;
    t->amcf = ctx->amcf;
    t->alcf = ngx_http_get_module_loc_conf(r, ngx_http_coze_auth_module);
    t->endpoint = endpoint;
    ngx_memcpy(t->hash, ctx->hash, 32);

    /* log lines of the task name the request that started it */
    vv = ngx_http_get_indexed_variable(r, ctx->amcf->request_id);

    if (vv && !vv->not_found) {
        t->request_id.data = ngx_pnalloc(pool, vv->len);
        if (t->request_id.data == NULL) {
            ngx_destroy_pool(pool);
            return NULL;
        }

        ngx_memcpy(t->request_id.data, vv->data, vv->len);
        t->request_id.len = vv->len;
    }

    return t;
}


void
ngx_http_coze_auth_task_abort(ngx_http_coze_auth_task_t *t)
{
    ngx_destroy_pool(t->pool);
}


/* body and bearer are copied: the task may outlive the request */

ngx_int_t
ngx_http_coze_auth_task_start(ngx_http_coze_auth_task_t *t, ngx_str_t *url,
    ngx_str_t *body, ngx_str_t *bearer, ngx_http_coze_auth_task_pt done)
{
    u_char                     *p;
    ngx_str_t                  *h;
    ngx_http_coze_auth_xfer_t  *x;

    if (t->amcf->curl == NULL) {
        return NGX_ERROR;
    }

    x = &t->xfer;

    x->pool = t->pool;
    x->log = ngx_cycle->log;
    ngx_str_set(&x->method, "POST");
    x->url = *url;
    x->timeout = t->alcf->timeout;
    x->ca_file = t->alcf->ssl_trusted_certificate;
    x->ssl_verify = t->alcf->ssl_verify;
    x->proxy = t->alcf->proxy;
    x->max_body = NGX_HTTP_COZE_AUTH_MAX_RESPONSE;
    x->done = ngx_http_coze_auth_task_done;
    x->data = t;

    x->body.data = ngx_pnalloc(t->pool, body->len);
    if (x->body.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(x->body.data, body->data, body->len);
    x->body.len = body->len;

    x->headers = ngx_array_create(t->pool, 3, sizeof(ngx_str_t));
    if (x->headers == NULL) {
        return NGX_ERROR;
    }

    h = ngx_array_push(x->headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(h, "Content-Type: application/json");

    h = ngx_array_push(x->headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(h, "Accept: application/json");

    if (bearer && bearer->len) {
        h = ngx_array_push(x->headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->len = sizeof("Authorization: Bearer ") - 1 + bearer->len;
        h->data = ngx_pnalloc(t->pool, h->len);
        if (h->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(h->data, "Authorization: Bearer ",
                       sizeof("Authorization: Bearer ") - 1);
        ngx_memcpy(p, bearer->data, bearer->len);
    }

    t->done = done;

    if (ngx_http_coze_auth_curl_start(t->amcf->curl, x) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "coze auth: cannot start a call to Coze: %V",
                      &x->error);
        return NGX_ERROR;
    }

    ngx_http_coze_auth_stat_flight(t->amcf, 1);

    /* not cancelable: a worker that shuts down finishes the task first */
    t->deadline.handler = ngx_http_coze_auth_task_deadline;
    t->deadline.data = t;
    t->deadline.log = ngx_cycle->log;

    ngx_add_timer(&t->deadline, x->timeout + 1000);

    return NGX_OK;
}


static void
ngx_http_coze_auth_task_deadline(ngx_event_t *ev)
{
    ngx_http_coze_auth_task_t  *t = ev->data;

    ngx_http_coze_auth_curl_cancel(&t->xfer);

    t->xfer.result = NGX_HTTP_COZE_AUTH_XFER_TIMEOUT;
    t->xfer.status = 0;
    ngx_str_set(&t->xfer.error, "deadline passed");

    ngx_http_coze_auth_task_done(&t->xfer);
}


/* runs inside the driver: leave libcurl's stack first */

static void
ngx_http_coze_auth_task_done(ngx_http_coze_auth_xfer_t *x)
{
    ngx_http_coze_auth_task_t  *t = x->data;

    if (t->deadline.timer_set) {
        ngx_del_timer(&t->deadline);
    }

    ngx_http_coze_auth_stat_flight(t->amcf, -1);

    t->finish.handler = ngx_http_coze_auth_task_finish;
    t->finish.data = t;
    t->finish.log = ngx_cycle->log;

    ngx_post_event(&t->finish, &ngx_posted_events);
}


static void
ngx_http_coze_auth_task_finish(ngx_event_t *ev)
{
    ngx_http_coze_auth_task_t  *t = ev->data;

    static const char  *names[] = {
        "token", "users/me", "refresh", "jwt token"
    };

    if (t->xfer.result == NGX_HTTP_COZE_AUTH_XFER_OK
        && t->xfer.status >= 200 && t->xfer.status < 300)
    {
        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "coze auth: %s call: status %ui, %M ms, "
                       "logid \"%V\", request_id %V", names[t->endpoint],
                       t->xfer.status, t->xfer.elapsed, &t->xfer.logid,
                       &t->request_id);

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "coze auth: %s call failed: status %ui, %M ms, "
                      "%s%s%V, logid \"%V\", request_id %V",
                      names[t->endpoint], t->xfer.status, t->xfer.elapsed,
                      ngx_http_coze_auth_xfer_result(t->xfer.result),
                      t->xfer.error.len ? ": " : "", &t->xfer.error,
                      &t->xfer.logid, &t->request_id);
    }

    ngx_http_coze_auth_stat_call_amcf(t->amcf, t->endpoint, &t->xfer);

    t->done(t);

    /* the outcome is in the shared zone: everyone waiting may look */
    ngx_http_coze_auth_wake(t->amcf, t->hash);

    ngx_destroy_pool(t->pool);
}

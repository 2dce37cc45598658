
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * The shared zone's counters and the coze_auth_status endpoint (JSON, or
 * Prometheus text with ?format=prometheus or Accept: text/plain).
 */


#include "ngx_http_coze_auth_module.h"


typedef struct {
    const char                     *metric;       /* coze_auth_<metric> */
    const char                     *label;        /* name="value" or "" */
    const char                     *json;         /* key in the JSON */
} ngx_http_coze_auth_metric_t;


/* indexed by NGX_HTTP_COZE_AUTH_ST_* */
static ngx_http_coze_auth_metric_t  ngx_http_coze_auth_metrics[] = {
    { "logins_total", "result=\"started\"", "logins_started" },
    { "logins_total", "result=\"completed\"", "logins_completed" },
    { "login_failures_total", "reason=\"state\"", "login_failures_state" },
    { "login_failures_total", "reason=\"denied\"", "login_failures_denied" },
    { "login_failures_total", "reason=\"exchange\"",
      "login_failures_exchange" },
    { "login_failures_total", "reason=\"userinfo\"",
      "login_failures_userinfo" },
    { "refreshes_total", "result=\"refreshed\"", "refreshes" },
    { "refreshes_total", "result=\"coalesced\"", "refreshes_coalesced" },
    { "refresh_failures_total", "reason=\"refused\"",
      "refresh_failures_refused" },
    { "refresh_failures_total", "reason=\"transient\"",
      "refresh_failures_transient" },
    { "jwt_tokens_total", "result=\"minted\"", "jwt_tokens_minted" },
    { "jwt_tokens_total", "result=\"reused\"", "jwt_tokens_reused" },
    { "jwt_tokens_total", "result=\"failed\"", "jwt_tokens_failed" },
    { "sessions_rejected_total", "reason=\"tampered\"",
      "sessions_rejected_tampered" },
    { "sessions_rejected_total", "reason=\"unknown_key\"",
      "sessions_rejected_unknown_key" },
    { "sessions_rejected_total", "reason=\"expired\"",
      "sessions_rejected_expired" },
    { "sessions_rejected_total", "reason=\"idle\"",
      "sessions_rejected_idle" },
    { "unauthenticated_total", "", "unauthenticated" },
    { "sessions_rejected_total", "reason=\"ended\"",
      "sessions_rejected_ended" },
    { "session_store_unavailable_total", "", "session_store_unavailable" },
    { "sessions_revoked_total", "", "sessions_revoked" }
};


static const char  *ngx_http_coze_auth_help[][2] = {
    { "logins_total", "Logins started and completed" },
    { "login_failures_total", "Logins that failed, by reason" },
    { "refreshes_total", "Access token refreshes: made, or taken from a "
      "concurrent request" },
    { "refresh_failures_total", "Refreshes that failed, by reason" },
    { "jwt_tokens_total", "Service tokens minted, reused from the cache, or "
      "failed" },
    { "sessions_rejected_total", "Session cookies rejected, by reason" },
    { "unauthenticated_total", "Requests to protected locations without a "
      "usable session" },
    { "session_store_unavailable_total", "Requests answered 503 because "
      "Redis, the session store, was unavailable" },
    { "sessions_revoked_total", "Server-side sessions ended by "
      "coze_auth_revoke" },
    { NULL, NULL }
};


static const char  *ngx_http_coze_auth_endpoints[] = {
    "token", "userinfo", "refresh", "jwt"
};

static const char  *ngx_http_coze_auth_outcomes[] = {
    "ok", "error", "timeout", "network"
};

/* upper bounds of the latency buckets, in milliseconds */
static ngx_msec_t  ngx_http_coze_auth_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


ngx_int_t
ngx_http_coze_auth_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_coze_auth_main_conf_t  *oamcf = data;

    ngx_slab_pool_t                 *shpool;
    ngx_http_coze_auth_main_conf_t  *amcf;

    amcf = shm_zone->data;

    if (oamcf) {
        amcf->sh = oamcf->sh;
        amcf->shpool = oamcf->shpool;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    amcf->shpool = shpool;

    if (shm_zone->shm.exists) {
        amcf->sh = shpool->data;
        return NGX_OK;
    }

    amcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_coze_auth_shctx_t));
    if (amcf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = amcf->sh;

    ngx_rbtree_init(&amcf->sh->rbtree, &amcf->sh->sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&amcf->sh->lru);

    shpool->log_nomem = 0;

    return NGX_OK;
}


void
ngx_http_coze_auth_stat_inc(ngx_http_request_t *r, ngx_uint_t n)
{
    ngx_http_coze_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_coze_auth_module);

    if (amcf->sh) {
        (void) ngx_atomic_fetch_add(&amcf->sh->counters[n], 1);
    }
}


void
ngx_http_coze_auth_stat_flight(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_int_t delta)
{
    if (amcf->sh) {
        (void) ngx_atomic_fetch_add(&amcf->sh->in_flight, delta);
    }
}


void
ngx_http_coze_auth_stat_add(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_uint_t n)
{
    if (amcf->sh) {
        (void) ngx_atomic_fetch_add(&amcf->sh->counters[n], 1);
    }
}


void
ngx_http_coze_auth_stat_call(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_http_coze_auth_xfer_t *x)
{
    ngx_http_coze_auth_stat_call_amcf(
        ngx_http_get_module_main_conf(r, ngx_http_coze_auth_module),
        endpoint, x);
}


void
ngx_http_coze_auth_stat_call_amcf(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_uint_t endpoint, ngx_http_coze_auth_xfer_t *x)
{
    ngx_uint_t  outcome, b;

    if (amcf->sh == NULL || endpoint >= NGX_HTTP_COZE_AUTH_CALLS) {
        return;
    }

    switch (x->result) {

    case NGX_HTTP_COZE_AUTH_XFER_OK:
        outcome = (x->status >= 200 && x->status < 300)
                  ? NGX_HTTP_COZE_AUTH_OUT_OK : NGX_HTTP_COZE_AUTH_OUT_ERROR;
        break;

    case NGX_HTTP_COZE_AUTH_XFER_TIMEOUT:
        outcome = NGX_HTTP_COZE_AUTH_OUT_TIMEOUT;
        break;

    default:
        outcome = NGX_HTTP_COZE_AUTH_OUT_NETWORK;
    }

    (void) ngx_atomic_fetch_add(&amcf->sh->calls[endpoint][outcome], 1);

    for (b = 0; b < NGX_HTTP_COZE_AUTH_BUCKETS; b++) {
        if (x->elapsed <= ngx_http_coze_auth_bounds[b]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&amcf->sh->latency[endpoint][b], 1);
    (void) ngx_atomic_fetch_add(&amcf->sh->latency_ms[endpoint],
                                x->elapsed);
}


static ngx_int_t
ngx_http_coze_auth_want_prometheus(ngx_http_request_t *r)
{
    ngx_str_t         format;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        return format.len == 10
               && ngx_strncmp(format.data, "prometheus", 10) == 0;
    }

    h = ngx_http_coze_auth_header_in(r, "Accept");

    if (h && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                              (u_char *) "text/plain", 10 - 1))
    {
        return 1;
    }

    return 0;
}


static u_char *
ngx_http_coze_auth_prometheus(u_char *p, ngx_http_coze_auth_shctx_t *sh)
{
    ngx_uint_t          i, e, o, b;
    ngx_atomic_uint_t   cum;

    for (i = 0; ngx_http_coze_auth_help[i][0]; i++) {
        p = ngx_sprintf(p, "# HELP coze_auth_%s %s\n"
                        "# TYPE coze_auth_%s counter\n",
                        ngx_http_coze_auth_help[i][0],
                        ngx_http_coze_auth_help[i][1],
                        ngx_http_coze_auth_help[i][0]);

        for (e = 0; e < NGX_HTTP_COZE_AUTH_ST_N; e++) {
            if (ngx_strcmp(ngx_http_coze_auth_metrics[e].metric,
                           ngx_http_coze_auth_help[i][0])
                != 0)
            {
                continue;
            }

            p = ngx_sprintf(p, "coze_auth_%s%s%s%s %uA\n",
                            ngx_http_coze_auth_metrics[e].metric,
                            ngx_http_coze_auth_metrics[e].label[0] ? "{" : "",
                            ngx_http_coze_auth_metrics[e].label,
                            ngx_http_coze_auth_metrics[e].label[0] ? "}" : "",
                            sh->counters[e]);
        }
    }

    p = ngx_sprintf(p, "# HELP coze_auth_calls_total Calls to Coze by "
                    "endpoint and outcome\n"
                    "# TYPE coze_auth_calls_total counter\n");

    for (e = 0; e < NGX_HTTP_COZE_AUTH_CALLS; e++) {
        for (o = 0; o < NGX_HTTP_COZE_AUTH_OUTCOMES; o++) {
            p = ngx_sprintf(p, "coze_auth_calls_total{endpoint=\"%s\","
                            "outcome=\"%s\"} %uA\n",
                            ngx_http_coze_auth_endpoints[e],
                            ngx_http_coze_auth_outcomes[o], sh->calls[e][o]);
        }
    }

    p = ngx_sprintf(p, "# HELP coze_auth_call_duration_seconds Latency of "
                    "calls to Coze\n"
                    "# TYPE coze_auth_call_duration_seconds histogram\n");

    for (e = 0; e < NGX_HTTP_COZE_AUTH_CALLS; e++) {
        cum = 0;

        for (b = 0; b < NGX_HTTP_COZE_AUTH_BUCKETS; b++) {
            cum += sh->latency[e][b];
            p = ngx_sprintf(p, "coze_auth_call_duration_seconds_bucket{"
                            "endpoint=\"%s\",le=\"%ui.%03ui\"} %uA\n",
                            ngx_http_coze_auth_endpoints[e],
                            ngx_http_coze_auth_bounds[b] / 1000,
                            ngx_http_coze_auth_bounds[b] % 1000, cum);
        }

        cum += sh->latency[e][NGX_HTTP_COZE_AUTH_BUCKETS];

        p = ngx_sprintf(p, "coze_auth_call_duration_seconds_bucket{"
                        "endpoint=\"%s\",le=\"+Inf\"} %uA\n"
                        "coze_auth_call_duration_seconds_sum{"
                        "endpoint=\"%s\"} %uA.%03uA\n"
                        "coze_auth_call_duration_seconds_count{"
                        "endpoint=\"%s\"} %uA\n",
                        ngx_http_coze_auth_endpoints[e], cum,
                        ngx_http_coze_auth_endpoints[e],
                        sh->latency_ms[e] / 1000, sh->latency_ms[e] % 1000,
                        ngx_http_coze_auth_endpoints[e], cum);
    }

    return ngx_sprintf(p, "# HELP coze_auth_in_flight Calls to Coze in "
                       "flight\n"
                       "# TYPE coze_auth_in_flight gauge\n"
                       "coze_auth_in_flight %uA\n"
                       "# HELP coze_auth_zone_records Records in the shared "
                       "zone\n"
                       "# TYPE coze_auth_zone_records gauge\n"
                       "coze_auth_zone_records %uA\n"
                       "# HELP coze_auth_zone_evictions_total Records "
                       "evicted because the zone was full\n"
                       "# TYPE coze_auth_zone_evictions_total counter\n"
                       "coze_auth_zone_evictions_total %uA\n",
                       sh->in_flight, sh->records, sh->evictions);
}


static u_char *
ngx_http_coze_auth_json(u_char *p, ngx_http_coze_auth_shctx_t *sh)
{
    ngx_uint_t          i, e, o, b;
    ngx_atomic_uint_t   cum;

    *p++ = '{';

    for (i = 0; i < NGX_HTTP_COZE_AUTH_ST_N; i++) {
        p = ngx_sprintf(p, "\"%s\":%uA,", ngx_http_coze_auth_metrics[i].json,
                        sh->counters[i]);
    }

    p = ngx_cpymem(p, "\"calls\":{", sizeof("\"calls\":{") - 1);

    for (e = 0; e < NGX_HTTP_COZE_AUTH_CALLS; e++) {
        p = ngx_sprintf(p, "%s\"%s\":{", e ? "," : "",
                        ngx_http_coze_auth_endpoints[e]);

        for (o = 0; o < NGX_HTTP_COZE_AUTH_OUTCOMES; o++) {
            p = ngx_sprintf(p, "\"%s\":%uA,", ngx_http_coze_auth_outcomes[o],
                            sh->calls[e][o]);
        }

        p = ngx_sprintf(p, "\"latency_ms_sum\":%uA,\"latency_buckets\":{",
                        sh->latency_ms[e]);

        cum = 0;

        for (b = 0; b < NGX_HTTP_COZE_AUTH_BUCKETS; b++) {
            cum += sh->latency[e][b];
            p = ngx_sprintf(p, "\"%M\":%uA,", ngx_http_coze_auth_bounds[b],
                            cum);
        }

        cum += sh->latency[e][NGX_HTTP_COZE_AUTH_BUCKETS];
        p = ngx_sprintf(p, "\"+Inf\":%uA}}", cum);
    }

    return ngx_sprintf(p, "},\"in_flight\":%uA,\"zone_records\":%uA,"
                       "\"zone_evictions\":%uA}\n",
                       sh->in_flight, sh->records, sh->evictions);
}


ngx_int_t
ngx_http_coze_auth_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_chain_t                      out;
    ngx_http_coze_auth_main_conf_t  *amcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_coze_auth_module);

    if (amcf->sh == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    b = ngx_create_temp_buf(r->pool, 16384);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coze_auth_want_prometheus(r)) {
        b->last = ngx_http_coze_auth_prometheus(b->last, amcf->sh);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        b->last = ngx_http_coze_auth_json(b->last, amcf->sh);
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

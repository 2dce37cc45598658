
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * The shared zone's counters and the coze_auth_status endpoint (JSON, or
 * Prometheus text with ?format=prometheus or Accept: text/plain).
 */


#include "ngx_http_coze_auth_module.h"


typedef struct {
    const char                     *name;
    const char                     *help;
} ngx_http_coze_auth_metric_t;


/* indexed by NGX_HTTP_COZE_AUTH_ST_* */
static ngx_http_coze_auth_metric_t  ngx_http_coze_auth_metrics[] = {
    { "calls", "Calls made to Coze" },
    { "logins_started", "Logins sent to Coze's authorize page" },
    { "logins_completed", "Logins that ended with a session" },
    { "logins_failed", "Logins that failed" },
    { "refreshes", "Access tokens refreshed" },
    { "refreshes_failed", "Refresh attempts that failed" },
    { "refreshes_shared", "Requests served by another request's refresh" },
    { "jwt_tokens_minted", "Service tokens obtained with a JWT" },
    { "jwt_tokens_reused", "Requests served from the service token cache" },
    { "sessions_invalid", "Session cookies rejected as invalid" },
    { "sessions_expired", "Sessions past their lifetime or idle limit" },
    { "unauthenticated", "Requests to protected locations without session" },
    { "call_errors", "Calls to Coze that failed" }
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


static ngx_int_t
ngx_http_coze_auth_want_prometheus(ngx_http_request_t *r)
{
    ngx_str_t  format;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        return format.len == 10
               && ngx_strncmp(format.data, "prometheus", 10) == 0;
    }

    {
    ngx_table_elt_t  *h;
    ngx_uint_t        i;
    ngx_list_part_t  *part;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "text/plain", 10 - 1))
        {
            return 1;
        }
    }
    }

    return 0;
}


ngx_int_t
ngx_http_coze_auth_status_handler(ngx_http_request_t *r)
{
    u_char                          *p;
    size_t                           len;
    ngx_int_t                        rc, prom;
    ngx_buf_t                       *b;
    ngx_uint_t                       i, in_flight;
    ngx_chain_t                      out;
    ngx_atomic_uint_t                v;
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

    prom = ngx_http_coze_auth_want_prometheus(r);
    in_flight = amcf->curl ? ngx_http_coze_auth_curl_in_flight(amcf->curl)
                           : 0;

    len = 512;

    for (i = 0; i < NGX_HTTP_COZE_AUTH_ST_N; i++) {
        len += 2 * ngx_strlen(ngx_http_coze_auth_metrics[i].name)
               + ngx_strlen(ngx_http_coze_auth_metrics[i].help)
               + NGX_ATOMIC_T_LEN + 64;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    if (prom) {
        for (i = 0; i < NGX_HTTP_COZE_AUTH_ST_N; i++) {
            v = amcf->sh->counters[i];
            p = ngx_sprintf(p, "# HELP coze_auth_%s_total %s\n"
                            "# TYPE coze_auth_%s_total counter\n"
                            "coze_auth_%s_total %uA\n",
                            ngx_http_coze_auth_metrics[i].name,
                            ngx_http_coze_auth_metrics[i].help,
                            ngx_http_coze_auth_metrics[i].name,
                            ngx_http_coze_auth_metrics[i].name, v);
        }

        p = ngx_sprintf(p, "# HELP coze_auth_zone_evictions_total Records "
                        "evicted from the shared zone\n"
                        "# TYPE coze_auth_zone_evictions_total counter\n"
                        "coze_auth_zone_evictions_total %uA\n"
                        "# HELP coze_auth_zone_records Records in the "
                        "shared zone\n"
                        "# TYPE coze_auth_zone_records gauge\n"
                        "coze_auth_zone_records %uA\n"
                        "# HELP coze_auth_in_flight Calls to Coze in flight "
                        "in the worker that answered\n"
                        "# TYPE coze_auth_in_flight gauge\n"
                        "coze_auth_in_flight %ui\n",
                        amcf->sh->evictions, amcf->sh->records, in_flight);

        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");

    } else {
        *p++ = '{';

        for (i = 0; i < NGX_HTTP_COZE_AUTH_ST_N; i++) {
            v = amcf->sh->counters[i];
            p = ngx_sprintf(p, "\"%s\":%uA,",
                            ngx_http_coze_auth_metrics[i].name, v);
        }

        p = ngx_sprintf(p, "\"zone_evictions\":%uA,\"zone_records\":%uA,"
                        "\"in_flight\":%ui}\n",
                        amcf->sh->evictions, amcf->sh->records, in_flight);

        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_type_len = r->headers_out.content_type.len;
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

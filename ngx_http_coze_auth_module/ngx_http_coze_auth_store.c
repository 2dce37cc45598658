
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Records in the shared zone, shared by all workers: refresh results
 * keyed by a hash of the old refresh token, and cached service tokens.
 * Values are sealed with the session key.  A full zone evicts the least
 * recently used records; nothing fails because the zone is full.
 */


#include "ngx_http_coze_auth_module.h"


typedef struct {
    ngx_rbtree_node_t               node;
    ngx_queue_t                     queue;
    u_char                          hash[32];
    ngx_uint_t                      state;
    ngx_pid_t                       owner;
    time_t                          busy_until;
    time_t                          keep_until;
    int64_t                         value_expires;
    size_t                          len;
    u_char                          data[1];
} ngx_http_coze_auth_rec_t;


static ngx_http_coze_auth_rec_t *ngx_http_coze_auth_rec_find(
    ngx_http_coze_auth_shctx_t *sh, u_char *hash);
static void ngx_http_coze_auth_rec_free(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_rec_t *rec);
static ngx_http_coze_auth_rec_t *ngx_http_coze_auth_rec_alloc(
    ngx_http_coze_auth_main_conf_t *amcf, size_t len);
static void ngx_http_coze_auth_rec_expire(
    ngx_http_coze_auth_main_conf_t *amcf, time_t now);


static ngx_http_coze_auth_rec_t *
ngx_http_coze_auth_rec_find(ngx_http_coze_auth_shctx_t *sh, u_char *hash)
{
    ngx_rbtree_key_t           key;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_coze_auth_rec_t  *rec;

    ngx_memcpy(&key, hash, sizeof(ngx_rbtree_key_t));

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        rec = (ngx_http_coze_auth_rec_t *) node;

        if (ngx_memcmp(rec->hash, hash, 32) == 0) {
            return rec;
        }

        /* equal keys go right in ngx_rbtree_insert_value() */
        node = node->right;
    }

    return NULL;
}


static void
ngx_http_coze_auth_rec_free(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_rec_t *rec)
{
    ngx_queue_remove(&rec->queue);
    ngx_rbtree_delete(&amcf->sh->rbtree, &rec->node);
    ngx_http_coze_auth_cleanse(rec->data, rec->len);
    ngx_slab_free_locked(amcf->shpool, rec);
    amcf->sh->records--;
}


static void
ngx_http_coze_auth_rec_expire(ngx_http_coze_auth_main_conf_t *amcf,
    time_t now)
{
    ngx_uint_t                 n;
    ngx_queue_t               *q;
    ngx_http_coze_auth_rec_t  *rec;

    /* a few from the cold end per call: bounded work under the lock */
    for (n = 0; n < 4 && !ngx_queue_empty(&amcf->sh->lru); n++) {
        q = ngx_queue_last(&amcf->sh->lru);
        rec = ngx_queue_data(q, ngx_http_coze_auth_rec_t, queue);

        if (rec->keep_until > now) {
            return;
        }

        ngx_http_coze_auth_rec_free(amcf, rec);
    }
}


static ngx_http_coze_auth_rec_t *
ngx_http_coze_auth_rec_alloc(ngx_http_coze_auth_main_conf_t *amcf,
    size_t len)
{
    ngx_queue_t               *q;
    ngx_http_coze_auth_rec_t  *rec;

    for ( ;; ) {
        rec = ngx_slab_alloc_locked(amcf->shpool,
                                    offsetof(ngx_http_coze_auth_rec_t, data)
                                    + len);
        if (rec) {
            ngx_memzero(rec, offsetof(ngx_http_coze_auth_rec_t, data));
            rec->len = len;
            amcf->sh->records++;
            return rec;
        }

        if (ngx_queue_empty(&amcf->sh->lru)) {
            return NULL;
        }

        /* the zone is full: the least recently used record goes */
        q = ngx_queue_last(&amcf->sh->lru);
        rec = ngx_queue_data(q, ngx_http_coze_auth_rec_t, queue);

        ngx_http_coze_auth_rec_free(amcf, rec);
        amcf->sh->evictions++;
    }
}


/*
 * Looks a record up.  NGX_OK: a value (copied into buf, at most *len);
 * NGX_BUSY: another request holds the lock; NGX_DECLINED: nothing.
 * With lock set, a missing or stale record is locked for the caller
 * (NGX_DECLINED then means "yours to do").
 */

ngx_int_t
ngx_http_coze_auth_store_get(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash, ngx_http_coze_auth_rec_value_t *v, ngx_uint_t lock,
    time_t busy_for)
{
    time_t                     now;
    ngx_int_t                  rc;
    ngx_http_coze_auth_rec_t  *rec;

    if (amcf->sh == NULL) {
        return NGX_DECLINED;
    }

    now = ngx_time();

    ngx_shmtx_lock(&amcf->shpool->mutex);

    ngx_http_coze_auth_rec_expire(amcf, now);

    rec = ngx_http_coze_auth_rec_find(amcf->sh, hash);

    if (rec && rec->keep_until <= now && rec->busy_until <= now) {
        ngx_http_coze_auth_rec_free(amcf, rec);
        rec = NULL;
    }

    v->renewing = 0;

    if (rec && rec->state != NGX_HTTP_COZE_AUTH_REC_LOCK
        && rec->len <= v->size)
    {
        ngx_queue_remove(&rec->queue);
        ngx_queue_insert_head(&amcf->sh->lru, &rec->queue);

        ngx_memcpy(v->data, rec->data, rec->len);
        v->len = rec->len;
        v->state = rec->state;
        v->expires = rec->value_expires;
        v->renewing = rec->busy_until > now;

        /* a value that wants renewal: the first to ask renews it */
        if (lock && v->renewing == 0
            && rec->state == NGX_HTTP_COZE_AUTH_REC_VALUE
            && v->expires - v->margin <= now)
        {
            rec->busy_until = now + busy_for;
            rec->owner = ngx_pid;
            v->renewing = 2;
        }

        rc = NGX_OK;
        goto done;
    }

    if (rec && rec->busy_until > now) {
        rc = NGX_BUSY;
        goto done;
    }

    rc = NGX_DECLINED;

    if (!lock) {
        goto done;
    }

    if (rec == NULL) {
        rec = ngx_http_coze_auth_rec_alloc(amcf, 0);
        if (rec == NULL) {
            /* no room even after evictions: go on without coordination */
            goto done;
        }

        ngx_memcpy(rec->hash, hash, 32);
        ngx_memcpy(&rec->node.key, hash, sizeof(ngx_rbtree_key_t));
        ngx_rbtree_insert(&amcf->sh->rbtree, &rec->node);
        ngx_queue_insert_head(&amcf->sh->lru, &rec->queue);
    }

    rec->owner = ngx_pid;
    rec->busy_until = now + busy_for;
    rec->keep_until = now + busy_for;

done:

    ngx_shmtx_unlock(&amcf->shpool->mutex);

    return rc;
}


/* stores a value (or a state with no value), releasing the lock */

ngx_int_t
ngx_http_coze_auth_store_put(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash, ngx_uint_t state, u_char *data, size_t len,
    int64_t value_expires, time_t keep)
{
    time_t                     now;
    ngx_http_coze_auth_rec_t  *rec;

    if (amcf->sh == NULL) {
        return NGX_DECLINED;
    }

    now = ngx_time();

    ngx_shmtx_lock(&amcf->shpool->mutex);

    rec = ngx_http_coze_auth_rec_find(amcf->sh, hash);

    if (rec) {
        ngx_http_coze_auth_rec_free(amcf, rec);
    }

    rec = ngx_http_coze_auth_rec_alloc(amcf, len);

    if (rec) {
        ngx_memcpy(rec->hash, hash, 32);
        ngx_memcpy(&rec->node.key, hash, sizeof(ngx_rbtree_key_t));
        rec->state = state;
        rec->owner = ngx_pid;
        rec->keep_until = now + keep;
        rec->value_expires = value_expires;

        if (len) {
            ngx_memcpy(rec->data, data, len);
        }

        ngx_rbtree_insert(&amcf->sh->rbtree, &rec->node);
        ngx_queue_insert_head(&amcf->sh->lru, &rec->queue);
    }

    ngx_shmtx_unlock(&amcf->shpool->mutex);

    return rec ? NGX_OK : NGX_ERROR;
}


/* gives up a lock taken by store_get() without storing anything */

void
ngx_http_coze_auth_store_unlock(ngx_http_coze_auth_main_conf_t *amcf,
    u_char *hash)
{
    ngx_http_coze_auth_rec_t  *rec;

    if (amcf->sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&amcf->shpool->mutex);

    rec = ngx_http_coze_auth_rec_find(amcf->sh, hash);

    if (rec && rec->owner == ngx_pid) {
        if (rec->state == NGX_HTTP_COZE_AUTH_REC_LOCK) {
            ngx_http_coze_auth_rec_free(amcf, rec);

        } else {
            rec->busy_until = 0;
        }
    }

    ngx_shmtx_unlock(&amcf->shpool->mutex);
}


/* SHA-256 over a purpose tag and parts, NUL-separated */

void
ngx_http_coze_auth_store_key(u_char *hash, const char *purpose,
    ngx_str_t *a, ngx_str_t *b)
{
    u_char     buf[1024];
    size_t     n, plen;
    EVP_MD_CTX *md;

    plen = ngx_strlen(purpose);
    n = plen + 1 + a->len + 1 + (b ? b->len : 0);

    if (n <= sizeof(buf)) {
        u_char  *p;

        p = ngx_cpymem(buf, purpose, plen);
        *p++ = '\0';
        p = ngx_cpymem(p, a->data, a->len);
        *p++ = '\0';

        if (b && b->len) {
            p = ngx_cpymem(p, b->data, b->len);
        }

        ngx_http_coze_auth_sha256(buf, p - buf, hash);
        ngx_http_coze_auth_cleanse(buf, p - buf);
        return;
    }

    /* long session names: hash in pieces */
    md = EVP_MD_CTX_new();

    if (md == NULL
        || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(md, purpose, plen + 1) != 1
        || EVP_DigestUpdate(md, a->data, a->len) != 1
        || EVP_DigestUpdate(md, "", 1) != 1
        || (b && EVP_DigestUpdate(md, b->data, b->len) != 1)
        || EVP_DigestFinal_ex(md, hash, NULL) != 1)
    {
        /* fail closed: a key nobody else can produce */
        (void) ngx_http_coze_auth_random(hash, 32);
    }

    EVP_MD_CTX_free(md);
}

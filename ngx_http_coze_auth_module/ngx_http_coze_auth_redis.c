
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Redis on the nginx event loop, and cross-node refresh coordination.
 *
 * The client is hiredis's asynchronous API with an nginx adapter, one
 * connection per worker:
 *
 * - hiredis's socket is wrapped in an nginx connection (ngx_get_connection)
 *   whose read/write events are level-triggered: hiredis, not nginx, reads
 *   the socket.  addRead/delRead/addWrite/delWrite map to ngx_add_event /
 *   ngx_del_event; cleanup removes the events and frees the connection
 *   (hiredis closes the fd itself).
 * - The address is resolved when the configuration is read, so connect()
 *   never resolves a name in a worker; the connect is non-blocking.
 * - One timer bounds the connect, AUTH and SELECT, and then "no reply for
 *   `timeout` while commands are pending": on expiry the connection is
 *   dropped (every pending command gets "no answer") and a reconnect is
 *   scheduled with an exponential backoff (100 ms .. 3 s).
 * - An outage is logged once (warn) per worker, and its end too.
 *
 * Cross-node refresh: the request that holds the local shared-zone lock
 * for a refresh token runs one Lua script that either returns the result
 * another node published, or takes "coze_auth:refresh:<hash>" (SET NX PX)
 * and makes this node the one that calls Coze; a node that finds the lock
 * taken polls the script until the result appears.  The owner publishes
 * the sealed outcome under "coze_auth:result:<hash>" for
 * coze_auth_refresh_result_ttl.  Without Redis each node coordinates its
 * own workers only.
 */


#include "ngx_http_coze_auth_module.h"
#include "ngx_http_coze_auth_redis.h"

#if (NGX_HTTP_COZE_AUTH_REDIS)
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#endif


#define NGX_HTTP_COZE_AUTH_REDIS_DOWN        0
#define NGX_HTTP_COZE_AUTH_REDIS_CONNECTING  1
#define NGX_HTTP_COZE_AUTH_REDIS_READY       2

#define NGX_HTTP_COZE_AUTH_REDIS_BACKOFF     100
#define NGX_HTTP_COZE_AUTH_REDIS_BACKOFF_MAX 3000
#define NGX_HTTP_COZE_AUTH_REDIS_POLL        50

#define NGX_HTTP_COZE_AUTH_LOCK_PREFIX       "coze_auth:refresh:"
#define NGX_HTTP_COZE_AUTH_RESULT_PREFIX     "coze_auth:result:"


static ngx_conf_enum_t  ngx_http_coze_auth_store_enum[] = {
    { ngx_string("cookie"), NGX_HTTP_COZE_AUTH_STORE_COOKIE },
    { ngx_string("redis"), NGX_HTTP_COZE_AUTH_STORE_REDIS },
    { ngx_null_string, 0 }
};


#if (NGX_HTTP_COZE_AUTH_REDIS)

struct ngx_http_coze_auth_redis_s {
    ngx_http_coze_auth_redis_conf_t  *conf;
    redisAsyncContext                *ac;
    ngx_connection_t                 *conn;
    ngx_log_t                        *log;
    ngx_uint_t                        state;
    ngx_uint_t                        pending;
    ngx_uint_t                        init_pending;
    ngx_event_t                       timer;
    ngx_event_t                       retry;
    ngx_msec_t                        backoff;
    ngx_str_t                         owner;
    unsigned                          outage_logged:1;
    unsigned                          exiting:1;
};


typedef struct {
    ngx_http_coze_auth_redis_t       *rd;
    ngx_http_coze_auth_redis_pt       handler;
    void                             *data;
} ngx_http_coze_auth_redis_cmd_t;


/* one refresh waiting for the cross-node lock or another node's result */
typedef struct {
    ngx_http_coze_auth_task_t        *task;
    ngx_str_t                         url;
    ngx_str_t                         body;
    ngx_str_t                         bearer;
    ngx_http_coze_auth_task_pt        done;
    ngx_event_t                       poll;
    ngx_msec_t                        deadline;
    ngx_uint_t                        polls;
} ngx_http_coze_auth_redis_job_t;


static void ngx_http_coze_auth_redis_connect(ngx_http_coze_auth_redis_t *rd);
static void ngx_http_coze_auth_redis_fail(ngx_http_coze_auth_redis_t *rd,
    const char *reason, const char *detail);
static void ngx_http_coze_auth_redis_schedule(ngx_http_coze_auth_redis_t *rd);
static void ngx_http_coze_auth_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_redis_event_handler(ngx_event_t *ev);
static void ngx_http_coze_auth_redis_watch(ngx_http_coze_auth_redis_t *rd,
    ngx_uint_t write, ngx_uint_t on);
static void ngx_http_coze_auth_redis_add_read(void *privdata);
static void ngx_http_coze_auth_redis_del_read(void *privdata);
static void ngx_http_coze_auth_redis_add_write(void *privdata);
static void ngx_http_coze_auth_redis_del_write(void *privdata);
static void ngx_http_coze_auth_redis_cleanup(void *privdata);
static void ngx_http_coze_auth_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_coze_auth_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_coze_auth_redis_init_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply);
static void ngx_http_coze_auth_redis_ready(ngx_http_coze_auth_redis_t *rd);
static void ngx_http_coze_auth_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void *ngx_http_coze_auth_redis_send(ngx_http_coze_auth_redis_t *rd,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

static ngx_int_t ngx_http_coze_auth_redis_job_run(
    ngx_http_coze_auth_redis_job_t *job);
static void ngx_http_coze_auth_redis_job_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply);
static void ngx_http_coze_auth_redis_job_poll(ngx_event_t *ev);
static void ngx_http_coze_auth_redis_job_local(
    ngx_http_coze_auth_redis_job_t *job);
static void ngx_http_coze_auth_redis_job_own(
    ngx_http_coze_auth_redis_job_t *job);
static void ngx_http_coze_auth_redis_job_finish(
    ngx_http_coze_auth_redis_job_t *job, ngx_uint_t state, u_char *data,
    size_t len, int64_t expires, time_t keep);
static void ngx_http_coze_auth_redis_keys(u_char *hash, u_char *lock,
    u_char *result);


/* returns the result another node published, or takes the lock (1) */
static const char  ngx_http_coze_auth_redis_take[] =
    "local v = redis.call('GET', KEYS[2]) "
    "if v then return v end "
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) "
    "then return 1 end "
    "return 0";

/* publishes the outcome and releases the lock if it is still ours */
static const char  ngx_http_coze_auth_redis_give[] =
    "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) "
    "if redis.call('GET', KEYS[1]) == ARGV[1] "
    "then redis.call('DEL', KEYS[1]) end "
    "return 1";

#endif


static ngx_int_t ngx_http_coze_auth_redis_read_password(ngx_conf_t *cf,
    ngx_str_t *path, ngx_str_t *out);


/* configuration */

char *
ngx_http_coze_auth_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
#if (NGX_HTTP_COZE_AUTH_REDIS)
    ngx_http_coze_auth_main_conf_t *amcf = conf;

    ngx_int_t                         n;
    ngx_str_t                        *value, s, path;
    ngx_url_t                         u;
    ngx_uint_t                        i;
    ngx_http_coze_auth_redis_conf_t  *rc;

    if (amcf->redis_conf) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rc = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_redis_conf_t));
    if (rc == NULL) {
        return NGX_CONF_ERROR;
    }

    rc->name = value[1];
    rc->connect_timeout = 1000;
    rc->timeout = 1000;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;

    /* resolved now: a worker never resolves a name */
    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": %s in \"%V\"", &cmd->name,
                           u.err ? u.err : "invalid address", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": no address for \"%V\"", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

#if (NGX_HAVE_UNIX_DOMAIN)
    if (u.family == AF_UNIX) {
        rc->host = ngx_pnalloc(cf->pool, u.host.len + 1);
        if (rc->host == NULL) {
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn(rc->host, u.host.data, u.host.len + 1);
        rc->port = 0;

    } else
#endif
    {
        rc->host = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (rc->host == NULL) {
            return NGX_CONF_ERROR;
        }

        n = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, rc->host,
                          NGX_SOCKADDR_STRLEN, 0);
        rc->host[n] = '\0';
        rc->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            s.data = value[i].data + 3;
            s.len = value[i].len - 3;

            n = ngx_atoi(s.data, s.len);
            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            rc->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            path.data = value[i].data + 14;
            path.len = value[i].len - 14;

            if (path.len == 0) {
                goto invalid;
            }

            if (ngx_http_coze_auth_redis_read_password(cf, &path,
                                                       &rc->password)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            s.data = value[i].data + 16;
            s.len = value[i].len - 16;

            rc->connect_timeout = ngx_parse_time(&s, 0);
            if (rc->connect_timeout == (ngx_msec_t) NGX_ERROR
                || rc->connect_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rc->timeout = ngx_parse_time(&s, 0);
            if (rc->timeout == (ngx_msec_t) NGX_ERROR || rc->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    amcf->redis_conf = rc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": invalid parameter \"%V\"", &cmd->name,
                       &value[i]);
    return NGX_CONF_ERROR;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": this ngx_http_coze_auth_module was built "
                       "without Redis support; install hiredis "
                       "(apt-get install libhiredis-dev) and rebuild the "
                       "module", &cmd->name);
    return NGX_CONF_ERROR;

#endif
}


char *
ngx_http_coze_auth_session_store_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (alcf->session_store != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_coze_auth_store_enum[i].name.len; i++) {
        if (ngx_http_coze_auth_store_enum[i].name.len == value[1].len
            && ngx_strcmp(ngx_http_coze_auth_store_enum[i].name.data,
                          value[1].data) == 0)
        {
            break;
        }
    }

    if (ngx_http_coze_auth_store_enum[i].name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": invalid value \"%V\", \"cookie\" or "
                           "\"redis\" expected", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_coze_auth_store_enum[i].value
        == NGX_HTTP_COZE_AUTH_STORE_REDIS)
    {
#if !(NGX_HTTP_COZE_AUTH_REDIS)
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V redis\": this ngx_http_coze_auth_module "
                           "was built without Redis support; install "
                           "hiredis (apt-get install libhiredis-dev) and "
                           "rebuild the module", &cmd->name);
        return NGX_CONF_ERROR;
#endif
    }

    alcf->session_store = ngx_http_coze_auth_store_enum[i].value;

    return NGX_CONF_OK;
}


/* from the merge: inherits the store and checks it against the http level */

char *
ngx_http_coze_auth_redis_check(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *alcf)
{
    const char                      *what;
    ngx_http_coze_auth_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coze_auth_module);

    if (alcf->session_store == NGX_CONF_UNSET_UINT) {
        alcf->session_store = NGX_HTTP_COZE_AUTH_STORE_COOKIE;
    }

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        what = "coze_auth_session_store redis";

    } else if (alcf->endpoint == NGX_HTTP_COZE_AUTH_EP_REVOKE) {
        what = "coze_auth_revoke";

    } else {
        return NGX_CONF_OK;
    }

    if (amcf->redis_conf == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" requires \"coze_auth_redis\" at the "
                           "http level", what);
        return NGX_CONF_ERROR;
    }

    if (alcf->session_store == NGX_HTTP_COZE_AUTH_STORE_REDIS) {
        amcf->redis_conf->sessions = 1;
    }

    return NGX_CONF_OK;
}


/* EVAL script nkeys: the first three arguments of a command */

void
ngx_http_coze_auth_redis_script(const char **argv, size_t *argvlen,
    const char *script, size_t len, const char *nkeys)
{
    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = script;
    argvlen[1] = len;
    argv[2] = nkeys;
    argvlen[2] = ngx_strlen(nkeys);
}


static ngx_int_t
ngx_http_coze_auth_redis_read_password(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *out)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_str_t        name;
    ngx_file_info_t  fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"coze_auth_redis\": cannot open password file "
                           "\"%V\"", &name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_redis\": password file \"%V\" is "
                           "unreadable or larger than 4k", &name);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    if (ngx_file_access(&fi) & 0004) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"coze_auth_redis\": password file \"%V\" is "
                           "readable by other users", &name);
    }

    out->data = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (out->data == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, out->data, ngx_file_size(&fi));

    ngx_close_file(fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"coze_auth_redis\": cannot read \"%V\"", &name);
        return NGX_ERROR;
    }

    out->len = n;

    while (out->len
           && (out->data[out->len - 1] == '\n'
               || out->data[out->len - 1] == '\r'
               || out->data[out->len - 1] == ' '))
    {
        out->len--;
    }

    if (out->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_redis\": password file \"%V\" is "
                           "empty", &name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


#if (NGX_HTTP_COZE_AUTH_REDIS)

/* the per-worker client */

ngx_int_t
ngx_http_coze_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coze_auth_main_conf_t *amcf)
{
    ngx_http_coze_auth_redis_t  *rd;

    if (amcf->redis_conf == NULL) {
        return NGX_OK;
    }

    rd = ngx_pcalloc(cycle->pool, sizeof(ngx_http_coze_auth_redis_t));
    if (rd == NULL) {
        return NGX_ERROR;
    }

    rd->conf = amcf->redis_conf;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_COZE_AUTH_REDIS_BACKOFF;

    rd->owner.data = ngx_pnalloc(cycle->pool,
                                 cycle->hostname.len + 1 + NGX_INT64_LEN);
    if (rd->owner.data == NULL) {
        return NGX_ERROR;
    }

    rd->owner.len = ngx_sprintf(rd->owner.data, "%V:%P", &cycle->hostname,
                                ngx_pid)
                    - rd->owner.data;

    rd->timer.handler = ngx_http_coze_auth_redis_timer_handler;
    rd->timer.data = rd;
    rd->timer.log = rd->log;
    rd->timer.cancelable = 1;

    rd->retry.handler = ngx_http_coze_auth_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.log = rd->log;
    rd->retry.cancelable = 1;

    amcf->redis = rd;

    ngx_http_coze_auth_redis_connect(rd);

    return NGX_OK;
}


void
ngx_http_coze_auth_redis_exit_process(ngx_http_coze_auth_main_conf_t *amcf)
{
    redisAsyncContext           *ac;
    ngx_http_coze_auth_redis_t  *rd;

    rd = amcf->redis;

    if (rd == NULL) {
        return;
    }

    rd->exiting = 1;
    rd->state = NGX_HTTP_COZE_AUTH_REDIS_DOWN;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    ac = rd->ac;
    rd->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    amcf->redis = NULL;
}


/*
 * Ready, or this worker's first connection is being made: a command then
 * waits for it (bounded by connect_timeout), so that the workers of a node
 * that has just started or reloaded coordinate their first refreshes with
 * the other nodes.  During an outage callers fall back at once.
 */

ngx_int_t
ngx_http_coze_auth_redis_up(ngx_http_coze_auth_main_conf_t *amcf)
{
    ngx_http_coze_auth_redis_t  *rd;

    rd = amcf->redis;

    if (rd == NULL) {
        return 0;
    }

    return rd->state == NGX_HTTP_COZE_AUTH_REDIS_READY
           || (rd->state == NGX_HTTP_COZE_AUTH_REDIS_CONNECTING
               && !rd->outage_logged);
}


static void
ngx_http_coze_auth_redis_connect(ngx_http_coze_auth_redis_t *rd)
{
    int                               argc;
    u_char                            db[NGX_INT_T_LEN];
    size_t                            argvlen[2];
    const char                       *argv[2];
    ngx_connection_t                 *c;
    redisAsyncContext                *ac;
    ngx_http_coze_auth_redis_conf_t  *conf;

    conf = rd->conf;

    if (conf->port) {
        ac = redisAsyncConnect((const char *) conf->host, conf->port);

    } else {
        ac = redisAsyncConnectUnix((const char *) conf->host);
    }

    if (ac == NULL) {
        ngx_http_coze_auth_redis_fail(rd, "cannot connect", "no memory");
        return;
    }

    if (ac->err) {
        ngx_http_coze_auth_redis_fail(rd, "cannot connect", ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_coze_auth_redis_fail(rd, "cannot connect",
                                      "no free connection");
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_coze_auth_redis_event_handler;
    c->write->handler = ngx_http_coze_auth_redis_event_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->conn = c;
    rd->ac = ac;
    rd->state = NGX_HTTP_COZE_AUTH_REDIS_CONNECTING;
    rd->pending = 0;
    rd->init_pending = 0;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_coze_auth_redis_add_read;
    ac->ev.delRead = ngx_http_coze_auth_redis_del_read;
    ac->ev.addWrite = ngx_http_coze_auth_redis_add_write;
    ac->ev.delWrite = ngx_http_coze_auth_redis_del_write;
    ac->ev.cleanup = ngx_http_coze_auth_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_coze_auth_redis_connected);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_coze_auth_redis_disconnected);

    /* queued now, written once connected; READY after their replies */
    if (conf->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (const char *) conf->password.data;
        argvlen[1] = conf->password.len;
        argc = 2;

        if (ngx_http_coze_auth_redis_send(rd,
                                          ngx_http_coze_auth_redis_init_reply,
                                          rd, argc, argv, argvlen)
            == NULL)
        {
            goto failed;
        }

        rd->init_pending++;
    }

    if (conf->db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", conf->db) - db;
        argc = 2;

        if (ngx_http_coze_auth_redis_send(rd,
                                          ngx_http_coze_auth_redis_init_reply,
                                          rd, argc, argv, argvlen)
            == NULL)
        {
            goto failed;
        }

        rd->init_pending++;
    }

    /* writability tells that the connect is over */
    ngx_http_coze_auth_redis_add_write(rd);

    ngx_add_timer(&rd->timer, conf->connect_timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "coze auth: connecting to redis %V", &conf->name);

    return;

failed:

    rd->ac = NULL;
    redisAsyncFree(ac);

    ngx_http_coze_auth_redis_fail(rd, "cannot connect", "no memory");
}


static void
ngx_http_coze_auth_redis_fail(ngx_http_coze_auth_redis_t *rd,
    const char *reason, const char *detail)
{
    rd->state = NGX_HTTP_COZE_AUTH_REDIS_DOWN;

    if (rd->exiting) {
        return;
    }

    if (!rd->outage_logged) {
        rd->outage_logged = 1;

        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "coze auth: redis %V unavailable (%s%s%s): %srefreshes "
                      "fall back to per-node coordination until it is back",
                      &rd->conf->name, reason, detail ? ": " : "",
                      detail ? detail : "",
                      rd->conf->sessions ? "server-side sessions get 503, "
                                         : "");

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "coze auth: redis still unavailable (%s %s)",
                       reason, detail ? detail : "");
    }

    ngx_http_coze_auth_redis_schedule(rd);
}


static void
ngx_http_coze_auth_redis_schedule(ngx_http_coze_auth_redis_t *rd)
{
    if (rd->exiting || rd->retry.timer_set) {
        return;
    }

    ngx_add_timer(&rd->retry, rd->backoff);

    rd->backoff *= 2;

    if (rd->backoff > NGX_HTTP_COZE_AUTH_REDIS_BACKOFF_MAX) {
        rd->backoff = NGX_HTTP_COZE_AUTH_REDIS_BACKOFF_MAX;
    }
}


static void
ngx_http_coze_auth_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_coze_auth_redis_t  *rd = ev->data;

    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->ac == NULL) {
        ngx_http_coze_auth_redis_connect(rd);
    }
}


/* a connect, AUTH/SELECT or command that got no answer in time */

static void
ngx_http_coze_auth_redis_timer_handler(ngx_event_t *ev)
{
    redisAsyncContext           *ac;
    ngx_http_coze_auth_redis_t  *rd = ev->data;

    ac = rd->ac;

    if (ac == NULL) {
        return;
    }

    rd->ac = NULL;

    ngx_http_coze_auth_redis_fail(rd, rd->state
                                      == NGX_HTTP_COZE_AUTH_REDIS_READY
                                      ? "command timed out"
                                      : "connect timed out", NULL);

    /* every pending command is told "no answer" */
    redisAsyncFree(ac);
}


/* the adapter: hiredis's event hooks on an nginx connection */

static void
ngx_http_coze_auth_redis_event_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c = ev->data;
    ngx_http_coze_auth_redis_t  *rd = c->data;

    if (rd->ac == NULL) {
        return;
    }

    if (ev->write) {
        redisAsyncHandleWrite(rd->ac);

    } else {
        redisAsyncHandleRead(rd->ac);
    }
}


/* one event of the connection on or off, as hiredis asks */

static void
ngx_http_coze_auth_redis_watch(ngx_http_coze_auth_redis_t *rd,
    ngx_uint_t write, ngx_uint_t on)
{
    ngx_int_t     event;
    ngx_event_t  *ev;

    if (rd->conn == NULL) {
        return;
    }

    ev = write ? rd->conn->write : rd->conn->read;
    event = write ? NGX_WRITE_EVENT : NGX_READ_EVENT;

    if (on && !ev->active) {
        (void) ngx_add_event(ev, event, NGX_LEVEL_EVENT);

    } else if (!on && ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


static void
ngx_http_coze_auth_redis_add_read(void *privdata)
{
    ngx_http_coze_auth_redis_watch(privdata, 0, 1);
}


static void
ngx_http_coze_auth_redis_del_read(void *privdata)
{
    ngx_http_coze_auth_redis_watch(privdata, 0, 0);
}


static void
ngx_http_coze_auth_redis_add_write(void *privdata)
{
    ngx_http_coze_auth_redis_watch(privdata, 1, 1);
}


static void
ngx_http_coze_auth_redis_del_write(void *privdata)
{
    ngx_http_coze_auth_redis_watch(privdata, 1, 0);
}


/* hiredis is about to close its fd: forget the nginx connection */

static void
ngx_http_coze_auth_redis_cleanup(void *privdata)
{
    ngx_connection_t            *c;
    ngx_http_coze_auth_redis_t  *rd = privdata;

    c = rd->conn;

    if (c == NULL) {
        return;
    }

    ngx_http_coze_auth_redis_watch(rd, 0, 0);
    ngx_http_coze_auth_redis_watch(rd, 1, 0);

    rd->conn = NULL;

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_coze_auth_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_coze_auth_redis_t  *rd = ac->data;

    if (rd->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        rd->ac = NULL;

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        ngx_http_coze_auth_redis_fail(rd, "cannot connect", ac->errstr);
        return;
    }

    if (rd->init_pending == 0) {
        ngx_http_coze_auth_redis_ready(rd);
    }
}


static void
ngx_http_coze_auth_redis_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_coze_auth_redis_t  *rd = ac->data;

    if (rd->ac != ac) {
        /* dropped by us: already reported */
        return;
    }

    rd->ac = NULL;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    ngx_http_coze_auth_redis_fail(rd, "connection lost",
                                  status == REDIS_OK ? NULL : ac->errstr);
}


static void
ngx_http_coze_auth_redis_init_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply)
{
    ngx_http_coze_auth_redis_t *rd = data;

    redisAsyncContext  *ac;

    if (reply == NULL) {
        return;
    }

    if (reply->type == NGX_HTTP_COZE_AUTH_REDIS_ERROR) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "coze auth: redis %V refused AUTH or SELECT: %V",
                      &rd->conf->name, &reply->str);

        ac = rd->ac;
        rd->ac = NULL;

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        ngx_http_coze_auth_redis_fail(rd, "AUTH or SELECT refused", NULL);

        if (ac) {
            /* freed once this callback returns */
            redisAsyncFree(ac);
        }

        return;
    }

    if (--rd->init_pending == 0 && rd->ac
        && (rd->ac->c.flags & REDIS_CONNECTED))
    {
        ngx_http_coze_auth_redis_ready(rd);
    }
}


static void
ngx_http_coze_auth_redis_ready(ngx_http_coze_auth_redis_t *rd)
{
    rd->state = NGX_HTTP_COZE_AUTH_REDIS_READY;
    rd->backoff = NGX_HTTP_COZE_AUTH_REDIS_BACKOFF;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->pending) {
        ngx_add_timer(&rd->timer, rd->conf->timeout);
    }

    if (rd->outage_logged) {
        rd->outage_logged = 0;
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "coze auth: redis %V is available again",
                      &rd->conf->name);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "coze auth: connected to redis %V", &rd->conf->name);
    }
}


static void
ngx_http_coze_auth_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                        *reply = r;
    ngx_http_coze_auth_redis_t        *rd;
    ngx_http_coze_auth_redis_cmd_t    *cmd = privdata;
    ngx_http_coze_auth_redis_reply_t   rep, *rp;

    rd = cmd->rd;

    if (rd->pending) {
        rd->pending--;
    }

    if (rd->ac == ac && rd->state == NGX_HTTP_COZE_AUTH_REDIS_READY) {
        if (rd->pending) {
            ngx_add_timer(&rd->timer, rd->conf->timeout);

        } else if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }
    }

    rp = NULL;

    if (reply) {
        ngx_memzero(&rep, sizeof(ngx_http_coze_auth_redis_reply_t));

        switch (reply->type) {

        case REDIS_REPLY_NIL:
            rep.type = NGX_HTTP_COZE_AUTH_REDIS_NIL;
            break;

        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            rep.type = reply->type == REDIS_REPLY_STRING
                       ? NGX_HTTP_COZE_AUTH_REDIS_STRING
                       : reply->type == REDIS_REPLY_STATUS
                         ? NGX_HTTP_COZE_AUTH_REDIS_STATUS
                         : NGX_HTTP_COZE_AUTH_REDIS_ERROR;
            rep.str.data = (u_char *) reply->str;
            rep.str.len = reply->len;
            break;

        case REDIS_REPLY_INTEGER:
            rep.type = NGX_HTTP_COZE_AUTH_REDIS_INTEGER;
            rep.integer = reply->integer;
            break;

        default:
            rep.type = NGX_HTTP_COZE_AUTH_REDIS_OTHER;
        }

        rp = &rep;
    }

    if (cmd->handler && !rd->exiting) {
        cmd->handler(cmd->data, rp);
    }

    ngx_free(cmd);
}


static void *
ngx_http_coze_auth_redis_send(ngx_http_coze_auth_redis_t *rd,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_coze_auth_redis_cmd_t  *cmd;

    if (rd->ac == NULL) {
        return NULL;
    }

    cmd = ngx_alloc(sizeof(ngx_http_coze_auth_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->rd = rd;
    cmd->handler = handler;
    cmd->data = data;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_coze_auth_redis_reply, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NULL;
    }

    rd->pending++;

    if (rd->state == NGX_HTTP_COZE_AUTH_REDIS_READY && !rd->timer.timer_set)
    {
        ngx_add_timer(&rd->timer, rd->conf->timeout);
    }

    return cmd;
}


/*
 * Sends a command; NULL when Redis is not available right now (see
 * ngx_http_coze_auth_redis_up(): the caller falls back at once).  The
 * handler runs exactly once, unless cancelled.
 */

void *
ngx_http_coze_auth_redis_command(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    if (!ngx_http_coze_auth_redis_up(amcf)) {
        return NULL;
    }

    return ngx_http_coze_auth_redis_send(amcf->redis, handler, data, argc,
                                         argv, argvlen);
}


/*
 * The same, but a command sent while any connection is being made, a
 * reconnection too, waits for it (bounded by connect_timeout): sessions
 * have no fallback, so they are not turned away while Redis is reachable.
 */

void *
ngx_http_coze_auth_redis_command_queued(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    if (amcf->redis == NULL
        || amcf->redis->state == NGX_HTTP_COZE_AUTH_REDIS_DOWN)
    {
        return NULL;
    }

    return ngx_http_coze_auth_redis_send(amcf->redis, handler, data, argc,
                                         argv, argvlen);
}


void
ngx_http_coze_auth_redis_cancel(void *cmd)
{
    ngx_http_coze_auth_redis_cmd_t  *c = cmd;

    if (c) {
        c->handler = NULL;
    }
}


/* cross-node refresh */

static void
ngx_http_coze_auth_redis_keys(u_char *hash, u_char *lock, u_char *result)
{
    u_char  *p;

    p = ngx_cpymem(lock, NGX_HTTP_COZE_AUTH_LOCK_PREFIX,
                   sizeof(NGX_HTTP_COZE_AUTH_LOCK_PREFIX) - 1);
    (void) ngx_hex_dump(p, hash, 32);

    p = ngx_cpymem(result, NGX_HTTP_COZE_AUTH_RESULT_PREFIX,
                   sizeof(NGX_HTTP_COZE_AUTH_RESULT_PREFIX) - 1);
    (void) ngx_hex_dump(p, hash, 32);
}


/*
 * Called with the local lock held and the task created: NGX_OK means the
 * job owns the task from now on; NGX_DECLINED: no Redis right now.
 */

ngx_int_t
ngx_http_coze_auth_redis_refresh(ngx_http_coze_auth_task_t *t,
    ngx_str_t *url, ngx_str_t *body, ngx_str_t *bearer,
    ngx_http_coze_auth_task_pt done)
{
    ngx_http_coze_auth_redis_job_t  *job;

    if (!ngx_http_coze_auth_redis_up(t->amcf)) {
        return NGX_DECLINED;
    }

    job = ngx_pcalloc(t->pool, sizeof(ngx_http_coze_auth_redis_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->task = t;
    job->url = *url;
    job->done = done;

    job->body.data = ngx_pnalloc(t->pool, body->len);
    if (job->body.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(job->body.data, body->data, body->len);
    job->body.len = body->len;

    if (bearer) {
        job->bearer = *bearer;         /* the client secret: configuration */
    }

    job->poll.handler = ngx_http_coze_auth_redis_job_poll;
    job->poll.data = job;
    job->poll.log = ngx_cycle->log;

    /* inside the waiters' own deadline (timeout + 1 s) */
    job->deadline = ngx_current_msec + t->alcf->timeout + 500;

    if (ngx_http_coze_auth_redis_job_run(job) != NGX_OK) {
        ngx_http_coze_auth_cleanse(job->body.data, job->body.len);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_redis_job_run(ngx_http_coze_auth_redis_job_t *job)
{
    u_char                      px[NGX_INT_T_LEN];
    size_t                      argvlen[7];
    const char                 *argv[7];
    ngx_http_coze_auth_task_t  *t;
    ngx_http_coze_auth_redis_t *rd;
    u_char                      lock[sizeof(NGX_HTTP_COZE_AUTH_LOCK_PREFIX)
                                     + 64];
    u_char                      result[
                                    sizeof(NGX_HTTP_COZE_AUTH_RESULT_PREFIX)
                                    + 64];

    t = job->task;
    rd = t->amcf->redis;

    if (rd == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_coze_auth_redis_keys(t->hash, lock, result);

    ngx_http_coze_auth_redis_script(argv, argvlen,
                                    ngx_http_coze_auth_redis_take,
                                    sizeof(ngx_http_coze_auth_redis_take) - 1,
                                    "2");
    argv[3] = (const char *) lock;
    argvlen[3] = sizeof(NGX_HTTP_COZE_AUTH_LOCK_PREFIX) - 1 + 64;
    argv[4] = (const char *) result;
    argvlen[4] = sizeof(NGX_HTTP_COZE_AUTH_RESULT_PREFIX) - 1 + 64;
    argv[5] = (const char *) rd->owner.data;
    argvlen[5] = rd->owner.len;

    /* the lock outlives the call to Coze and its backstop */
    argv[6] = (const char *) px;
    argvlen[6] = ngx_sprintf(px, "%M", t->alcf->timeout + 5000) - px;

    if (ngx_http_coze_auth_redis_command(t->amcf,
                                         ngx_http_coze_auth_redis_job_reply,
                                         job, 7, argv, argvlen)
        == NULL)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_coze_auth_redis_job_reply(void *data,
    ngx_http_coze_auth_redis_reply_t *reply)
{
    ngx_http_coze_auth_redis_job_t *job = data;

    u_char     *p, *end, *f[3];
    time_t      keep;
    int64_t     expires;
    ngx_int_t   n;
    ngx_uint_t  i, state;

    if (reply == NULL || reply->type == NGX_HTTP_COZE_AUTH_REDIS_ERROR) {
        if (reply) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "coze auth: redis refused the refresh lock: %V",
                          &reply->str);
        }

        ngx_http_coze_auth_redis_job_local(job);
        return;
    }

    if (reply->type == NGX_HTTP_COZE_AUTH_REDIS_INTEGER) {

        if (reply->integer == 1) {
            ngx_http_coze_auth_redis_job_own(job);
            return;
        }

        /* another node is refreshing: poll for its result */
        if ((ngx_msec_int_t) (ngx_current_msec - job->deadline) >= 0) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "coze auth: the refresh on another node did not "
                          "finish in time");
            ngx_http_coze_auth_redis_job_finish(job,
                                               NGX_HTTP_COZE_AUTH_REC_RETRY,
                                               NULL, 0, 0, 1);
            return;
        }

        job->polls++;
        ngx_add_timer(&job->poll, NGX_HTTP_COZE_AUTH_REDIS_POLL);
        return;
    }

    if (reply->type != NGX_HTTP_COZE_AUTH_REDIS_STRING) {
        ngx_http_coze_auth_redis_job_local(job);
        return;
    }

    /* "<state> <expires> <keep> <sealed value>" */
    p = reply->str.data;
    end = p + reply->str.len;

    for (i = 0; i < 3; i++) {
        f[i] = p;

        while (p < end && *p != ' ') {
            p++;
        }

        if (p == end) {
            goto invalid;
        }

        p++;
    }

    n = ngx_atoi(f[0], f[1] - f[0] - 1);
    if (n == NGX_ERROR || n > NGX_HTTP_COZE_AUTH_REC_RETRY) {
        goto invalid;
    }

    state = n;

    expires = ngx_atotm(f[1], f[2] - f[1] - 1);
    n = ngx_atoi(f[2], p - f[2] - 1);

    if (expires == NGX_ERROR || n == NGX_ERROR || n == 0) {
        goto invalid;
    }

    keep = n;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "coze auth: refresh outcome %ui from another node",
                   state);

    ngx_http_coze_auth_redis_job_finish(job, state,
                                        state == NGX_HTTP_COZE_AUTH_REC_VALUE
                                        ? p : NULL,
                                        state == NGX_HTTP_COZE_AUTH_REC_VALUE
                                        ? (size_t) (end - p) : 0,
                                        expires, keep);
    return;

invalid:

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "coze auth: invalid refresh result in redis");

    ngx_http_coze_auth_redis_job_finish(job, NGX_HTTP_COZE_AUTH_REC_RETRY,
                                        NULL, 0, 0, 1);
}


static void
ngx_http_coze_auth_redis_job_poll(ngx_event_t *ev)
{
    ngx_http_coze_auth_redis_job_t *job = ev->data;

    if (ngx_http_coze_auth_redis_job_run(job) != NGX_OK) {
        /*
         * Redis went away while another node holds the lock: refreshing
         * here could spend the token twice; the outcome is "retry later"
         */
        ngx_http_coze_auth_redis_job_finish(job,
                                            NGX_HTTP_COZE_AUTH_REC_RETRY,
                                            NULL, 0, 0, 1);
    }
}


/* no answer from Redis: per-node coordination, as without Redis */

static void
ngx_http_coze_auth_redis_job_local(ngx_http_coze_auth_redis_job_t *job)
{
    if (job->polls) {
        ngx_http_coze_auth_redis_job_finish(job,
                                            NGX_HTTP_COZE_AUTH_REC_RETRY,
                                            NULL, 0, 0, 1);
        return;
    }

    ngx_http_coze_auth_redis_job_own(job);
}


static void
ngx_http_coze_auth_redis_job_own(ngx_http_coze_auth_redis_job_t *job)
{
    ngx_int_t                   rc;
    ngx_http_coze_auth_task_t  *t;

    t = job->task;

    /* a refresh token works once: never let libcurl send it twice */
    t->xfer.fresh = 1;

    rc = ngx_http_coze_auth_task_start(t, &job->url, &job->body,
                                       job->bearer.len ? &job->bearer : NULL,
                                       job->done);

    ngx_http_coze_auth_cleanse(job->body.data, job->body.len);

    if (rc != NGX_OK) {
        ngx_http_coze_auth_redis_refresh_publish(t,
                                                NGX_HTTP_COZE_AUTH_REC_RETRY,
                                                NULL, 0, 0, 1);
        ngx_http_coze_auth_redis_job_finish(job,
                                            NGX_HTTP_COZE_AUTH_REC_RETRY,
                                            NULL, 0, 0, 1);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "coze auth: this node refreshes the token");

    /* the task publishes its outcome (refresh.c) and wakes the waiters */
}


/* takes an outcome without calling Coze here; the task is over */

static void
ngx_http_coze_auth_redis_job_finish(ngx_http_coze_auth_redis_job_t *job,
    ngx_uint_t state, u_char *data, size_t len, int64_t expires, time_t keep)
{
    ngx_http_coze_auth_task_t  *t;

    t = job->task;

    if (job->poll.timer_set) {
        ngx_del_timer(&job->poll);
    }

    ngx_http_coze_auth_cleanse(job->body.data, job->body.len);

    if (ngx_http_coze_auth_store_put(t->amcf, t->hash, state, data, len,
                                     expires, keep)
        != NGX_OK)
    {
        ngx_http_coze_auth_store_unlock(t->amcf, t->hash);
    }

    if (state == NGX_HTTP_COZE_AUTH_REC_VALUE) {
        ngx_http_coze_auth_stat_add(t->amcf,
                                    NGX_HTTP_COZE_AUTH_ST_REFRESH_SHARED);
    }

    ngx_http_coze_auth_wake(t->amcf, t->hash);

    ngx_http_coze_auth_task_abort(t);
}


/* the refresh's outcome for the other nodes; fire and forget */

void
ngx_http_coze_auth_redis_refresh_publish(ngx_http_coze_auth_task_t *t,
    ngx_uint_t state, u_char *data, size_t len, int64_t expires,
    time_t keep)
{
    u_char                       *p, *value, px[NGX_INT_T_LEN];
    size_t                        argvlen[8];
    const char                   *argv[8];
    ngx_http_coze_auth_redis_t   *rd;
    u_char                        lock[sizeof(NGX_HTTP_COZE_AUTH_LOCK_PREFIX)
                                       + 64];
    u_char                        result[
                                      sizeof(NGX_HTTP_COZE_AUTH_RESULT_PREFIX)
                                      + 64];

    if (!ngx_http_coze_auth_redis_up(t->amcf)) {
        return;
    }

    rd = t->amcf->redis;

    value = ngx_pnalloc(t->pool, 3 * NGX_INT64_LEN + 4 + len);
    if (value == NULL) {
        return;
    }

    if (keep < 1) {
        keep = 1;
    }

    p = ngx_sprintf(value, "%ui %L %T ", state, expires, keep);

    if (len) {
        p = ngx_cpymem(p, data, len);
    }

    ngx_http_coze_auth_redis_keys(t->hash, lock, result);

    ngx_http_coze_auth_redis_script(argv, argvlen,
                                    ngx_http_coze_auth_redis_give,
                                    sizeof(ngx_http_coze_auth_redis_give) - 1,
                                    "2");
    argv[3] = (const char *) lock;
    argvlen[3] = sizeof(NGX_HTTP_COZE_AUTH_LOCK_PREFIX) - 1 + 64;
    argv[4] = (const char *) result;
    argvlen[4] = sizeof(NGX_HTTP_COZE_AUTH_RESULT_PREFIX) - 1 + 64;
    argv[5] = (const char *) rd->owner.data;
    argvlen[5] = rd->owner.len;
    argv[6] = (const char *) value;
    argvlen[6] = p - value;
    argv[7] = (const char *) px;
    argvlen[7] = ngx_sprintf(px, "%T", keep * 1000) - px;

    /* hiredis copies the arguments at once */
    (void) ngx_http_coze_auth_redis_command(t->amcf, NULL, NULL, 8, argv,
                                            argvlen);

    ngx_http_coze_auth_cleanse(value, p - value);
}

#else /* !NGX_HTTP_COZE_AUTH_REDIS */

ngx_int_t
ngx_http_coze_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coze_auth_main_conf_t *amcf)
{
    return NGX_OK;
}


void
ngx_http_coze_auth_redis_exit_process(ngx_http_coze_auth_main_conf_t *amcf)
{
}


ngx_int_t
ngx_http_coze_auth_redis_up(ngx_http_coze_auth_main_conf_t *amcf)
{
    return 0;
}


void *
ngx_http_coze_auth_redis_command(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    return NULL;
}


void *
ngx_http_coze_auth_redis_command_queued(ngx_http_coze_auth_main_conf_t *amcf,
    ngx_http_coze_auth_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    return NULL;
}


void
ngx_http_coze_auth_redis_cancel(void *cmd)
{
}


ngx_int_t
ngx_http_coze_auth_redis_refresh(ngx_http_coze_auth_task_t *t,
    ngx_str_t *url, ngx_str_t *body, ngx_str_t *bearer,
    ngx_http_coze_auth_task_pt done)
{
    return NGX_DECLINED;
}


void
ngx_http_coze_auth_redis_refresh_publish(ngx_http_coze_auth_task_t *t,
    ngx_uint_t state, u_char *data, size_t len, int64_t expires,
    time_t keep)
{
}

#endif

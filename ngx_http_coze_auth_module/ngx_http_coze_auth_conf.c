
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Directive handlers and cross-directive validation: everything that can
 * be wrong in a configuration fails "nginx -t" with the directive named.
 */


#include "ngx_http_coze_auth_conf.h"
#include "ngx_http_coze_auth_proto.h"
#include "ngx_http_coze_auth_jwt.h"
#include "ngx_http_coze_auth_util.h"
#include "ngx_http_coze_auth_redis.h"


#define NGX_HTTP_COZE_AUTH_FILE_MAX  65536


static ngx_int_t ngx_http_coze_auth_read_file(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *name, ngx_str_t *out, ngx_uint_t *mode);
static void ngx_http_coze_auth_trim(ngx_str_t *s);
static void ngx_http_coze_auth_cleanse_pool(void *data);
static void ngx_http_coze_auth_pkey_cleanup(void *data);
static ngx_int_t ngx_http_coze_auth_load_pkey(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *path, ngx_str_t *pem, const char *what,
    EVP_PKEY **key);
static ngx_int_t ngx_http_coze_auth_check_url(ngx_str_t *url);
static ngx_int_t ngx_http_coze_auth_cookie_name_valid(ngx_str_t *name);
static ngx_int_t ngx_http_coze_auth_default_cookie(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf);
static ngx_uint_t ngx_http_coze_auth_type_by_name(u_char *name, size_t len);
static ngx_str_t *ngx_http_coze_auth_type_name(ngx_uint_t type);
static void ngx_http_coze_auth_url_host(ngx_str_t *url, ngx_str_t *host);
static ngx_uint_t ngx_http_coze_auth_in_domain(ngx_str_t *host,
    ngx_str_t *domain);
static const char *ngx_http_coze_auth_region(ngx_str_t *url);
static ngx_int_t ngx_http_coze_auth_check_regions(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf);
static ngx_uint_t ngx_http_coze_auth_server_has_name(
    ngx_http_core_srv_conf_t *cscf, ngx_str_t *host);
static ngx_uint_t ngx_http_coze_auth_server_has_ssl(ngx_conf_t *cf,
    ngx_http_core_srv_conf_t *cscf);
static void ngx_http_coze_auth_check_server(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf,
    ngx_http_coze_auth_main_conf_t *amcf);


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      type;
} ngx_http_coze_auth_type_t;


static ngx_http_coze_auth_type_t  ngx_http_coze_auth_types[] = {
    { ngx_string("web"), NGX_HTTP_COZE_AUTH_WEB },
    { ngx_string("pkce"), NGX_HTTP_COZE_AUTH_PKCE },
    { ngx_string("jwt"), NGX_HTTP_COZE_AUTH_JWT },
    { ngx_string("token"), NGX_HTTP_COZE_AUTH_TOKEN },
    { ngx_null_string, 0 }
};


/* reads a small file at configuration time, wiped from the pool later */

static ngx_int_t
ngx_http_coze_auth_read_file(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name, ngx_str_t *out, ngx_uint_t *mode)
{
    ssize_t              n;
    ngx_fd_t             fd;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_open_file_n " \"%V\" failed",
                           &cmd->name, name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_fd_info_n " \"%V\" failed",
                           &cmd->name, name);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_COZE_AUTH_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": file \"%V\" is too large (over %d "
                           "bytes)", &cmd->name, name,
                           NGX_HTTP_COZE_AUTH_FILE_MAX);
        goto failed;
    }

    if (mode) {
        *mode = ngx_file_access(&fi);
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        goto failed;
    }

    /* the copy is wiped when the configuration is freed */
    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        goto failed;
    }

    cln->handler = ngx_http_coze_auth_cleanse_pool;
    *(ngx_str_t *) cln->data = *out;

    n = ngx_read_fd(fd, out->data, out->len);
    if (n == -1 || (size_t) n != out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_read_fd_n " \"%V\" failed",
                           &cmd->name, name);
        goto failed;
    }

    out->data[out->len] = '\0';

    ngx_close_file(fd);

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


static void
ngx_http_coze_auth_cleanse_pool(void *data)
{
    ngx_str_t  *s = data;

    if (s->data) {
        ngx_http_coze_auth_cleanse(s->data, s->len);
    }
}


static void
ngx_http_coze_auth_trim(ngx_str_t *s)
{
    while (s->len
           && (s->data[s->len - 1] == '\n' || s->data[s->len - 1] == '\r'
               || s->data[s->len - 1] == ' ' || s->data[s->len - 1] == '\t'))
    {
        s->len--;
    }
}


static void
ngx_http_coze_auth_pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


static ngx_int_t
ngx_http_coze_auth_load_pkey(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *path, ngx_str_t *pem, const char *what, EVP_PKEY **key)
{
    char                 err[256];
    ngx_pool_cleanup_t  *cln;

    err[0] = '\0';

    *key = ngx_http_coze_auth_jwt_load_key(pem->data, pem->len, err,
                                           sizeof(err));
    if (*key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": file \"%V\": invalid %s: %s",
                           &cmd->name, path, what, err);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(*key);
        *key = NULL;
        return NGX_ERROR;
    }

    cln->handler = ngx_http_coze_auth_pkey_cleanup;
    cln->data = *key;

    return NGX_OK;
}


char *
ngx_http_coze_auth_app_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    char                       err[256];
    ngx_str_t                 *value, json;
    ngx_uint_t                 mode;
    ngx_http_coze_auth_mem_t   mem;

    if (alcf->app != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alcf->app_config = value[1];

    if (ngx_http_coze_auth_read_file(cf, cmd, &alcf->app_config, &json,
                                     &mode)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    alcf->app = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_appconf_t));
    if (alcf->app == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_coze_auth_mem_init(&mem, cf->pool);
    err[0] = '\0';

    if (ngx_http_coze_auth_appconf_parse(&mem, json.data, json.len, alcf->app,
                                         err, sizeof(err))
        != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": file \"%V\": %s", &cmd->name,
                           &alcf->app_config, err);
        return NGX_CONF_ERROR;
    }

    if ((mode & 0004)
        && (alcf->app->client_secret.len || alcf->app->private_key.len))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": file \"%V\" holds a secret and is "
                           "readable by other users", &cmd->name,
                           &alcf->app_config);
    }

    if (alcf->app->private_key.len) {
        json.len = alcf->app->private_key.len;
        json.data = alcf->app->private_key.data;

        if (ngx_http_coze_auth_load_pkey(cf, cmd, &alcf->app_config, &json,
                                         "private_key", &alcf->app_key)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_client_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (alcf->client_type != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_coze_auth_types[i].name.len; i++) {
        if (value[1].len == ngx_http_coze_auth_types[i].name.len
            && ngx_strncmp(value[1].data, ngx_http_coze_auth_types[i].name.data,
                           value[1].len) == 0)
        {
            alcf->client_type = ngx_http_coze_auth_types[i].type;
            ngx_str_set(&alcf->client_type_src, "coze_auth_client_type");
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\": expected web, pkce, "
                       "jwt or token", &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


char *
ngx_http_coze_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *field, *value, path;
    ngx_uint_t   mode;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_http_coze_auth_read_file(cf, cmd, &path, field, &mode) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_http_coze_auth_trim(field);

    if (field->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": file \"%V\" is empty", &cmd->name, &path);
        return NGX_CONF_ERROR;
    }

    if (mode & 0004) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": file \"%V\" is readable by other users",
                           &cmd->name, &path);
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_token_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char       *rv;
    ngx_str_t  *token;

    rv = ngx_http_coze_auth_secret_file(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    token = (ngx_str_t *) ((char *) conf + cmd->offset);

    /* the value goes into a request header: no line breaks, no spaces */
    if (ngx_strlchr(token->data, token->data + token->len, '\n')
        || ngx_strlchr(token->data, token->data + token->len, '\r')
        || ngx_strlchr(token->data, token->data + token->len, ' '))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the file must hold a single token",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_coze_auth_check_url(ngx_str_t *url)
{
    size_t  skip;

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        skip = 8;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        skip = 7;

    } else {
        return NGX_ERROR;
    }

    if (url->data[skip] == '/') {
        return NGX_ERROR;
    }

    if (ngx_strlchr(url->data, url->data + url->len, '?')
        || ngx_strlchr(url->data, url->data + url->len, '#')
        || ngx_strlchr(url->data, url->data + url->len, ' '))
    {
        return NGX_ERROR;
    }

    while (url->len > skip && url->data[url->len - 1] == '/') {
        url->len--;
    }

    return NGX_OK;
}


char *
ngx_http_coze_auth_base_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *field = value[1];

    if (ngx_http_coze_auth_check_url(field) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be an http:// or https:// URL "
                           "without query, got \"%V\"", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value, tmp;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *field = value[1];

    if (field->len && field->data[0] == '/' && field->len < 2048
        && (field->len == 1 || field->data[1] != '/'))
    {
        return NGX_CONF_OK;
    }

    tmp = *field;

    if (ngx_http_coze_auth_check_url(&tmp) == NGX_OK) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be a path (\"/oauth/callback\") or an "
                       "absolute http(s) URL, got \"%V\"", &cmd->name,
                       &value[1]);

    return NGX_CONF_ERROR;
}


char *
ngx_http_coze_auth_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->endpoint != NGX_HTTP_COZE_AUTH_EP_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": this location already is a "
                           "coze_auth endpoint", &cmd->name);
        return NGX_CONF_ERROR;
    }

    alcf->endpoint = (ngx_uint_t) cmd->offset;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    switch (alcf->endpoint) {

    case NGX_HTTP_COZE_AUTH_EP_CALLBACK:
        clcf->handler = ngx_http_coze_auth_callback_handler;
        break;

    case NGX_HTTP_COZE_AUTH_EP_LOGOUT:
        clcf->handler = ngx_http_coze_auth_logout_handler;

        value = cf->args->elts;

        if (cf->args->nelts == 2) {
            alcf->logout_target = value[1];

            if (ngx_http_coze_auth_return_path_valid(value[1].data,
                                                     value[1].len))
            {
                break;
            }

            if (ngx_http_coze_auth_check_url(&value[1]) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\": invalid target \"%V\": a "
                                   "same-site path or an http(s) URL is "
                                   "expected", &cmd->name,
                                   &alcf->logout_target);
                return NGX_CONF_ERROR;
            }
        }

        break;

    case NGX_HTTP_COZE_AUTH_EP_USERINFO:
        clcf->handler = ngx_http_coze_auth_userinfo_handler;
        break;

    case NGX_HTTP_COZE_AUTH_EP_REVOKE:
        clcf->handler = ngx_http_coze_auth_revoke_handler;
        break;

    default: /* NGX_HTTP_COZE_AUTH_EP_STATUS */
        clcf->handler = ngx_http_coze_auth_status_handler;
        break;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_session_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    u_char                    raw[NGX_HTTP_COZE_AUTH_KEY_LEN];
    ngx_str_t                *value, path, data;
    ngx_uint_t                mode, i;
    ngx_http_coze_auth_key_t *key;

    if (alcf->keyring == NGX_CONF_UNSET_PTR) {
        alcf->keyring = ngx_pcalloc(cf->pool,
                                    sizeof(ngx_http_coze_auth_keyring_t));
        if (alcf->keyring == NULL) {
            return NGX_CONF_ERROR;
        }

        alcf->keyring->keys = ngx_pcalloc(cf->pool,
                                          NGX_HTTP_COZE_AUTH_MAX_KEYS
                                          * sizeof(ngx_http_coze_auth_key_t));
        if (alcf->keyring->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (alcf->keyring->nkeys == NGX_HTTP_COZE_AUTH_MAX_KEYS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": at most %d keys", &cmd->name,
                           NGX_HTTP_COZE_AUTH_MAX_KEYS);
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_http_coze_auth_read_file(cf, cmd, &path, &data, &mode) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (data.len == NGX_HTTP_COZE_AUTH_KEY_LEN) {
        ngx_memcpy(raw, data.data, NGX_HTTP_COZE_AUTH_KEY_LEN);

    } else {
        /* "openssl rand -hex 32 > key" is accepted too */
        ngx_http_coze_auth_trim(&data);

        if (data.len != 2 * NGX_HTTP_COZE_AUTH_KEY_LEN) {
            goto invalid;
        }

        for (i = 0; i < NGX_HTTP_COZE_AUTH_KEY_LEN; i++) {
            ngx_int_t  hi, lo;

            hi = ngx_hextoi(&data.data[2 * i], 1);
            lo = ngx_hextoi(&data.data[2 * i + 1], 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                goto invalid;
            }

            raw[i] = (u_char) (hi * 16 + lo);
        }
    }

    if (mode & 0004) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": key file \"%V\" is readable by other "
                           "users", &cmd->name, &path);
    }

    key = &alcf->keyring->keys[alcf->keyring->nkeys];

    if (ngx_http_coze_auth_key_init(key, raw, NGX_HTTP_COZE_AUTH_KEY_LEN)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_http_coze_auth_cleanse(raw, sizeof(raw));
        return NGX_CONF_ERROR;
    }

    ngx_http_coze_auth_cleanse(raw, sizeof(raw));

    for (i = 0; i < alcf->keyring->nkeys; i++) {
        if (ngx_memcmp(alcf->keyring->keys[i].kid, key->kid, 4) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": key \"%V\" is configured twice",
                               &cmd->name, &path);
            return NGX_CONF_ERROR;
        }
    }

    alcf->keyring->nkeys++;

    return NGX_CONF_OK;

invalid:

    ngx_http_coze_auth_cleanse(raw, sizeof(raw));

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": key file \"%V\" must hold exactly 32 bytes "
                       "(or 64 hex digits); create one with "
                       "\"openssl rand 32 > %V\"", &cmd->name, &path,
                       &value[1]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_coze_auth_cookie_name_valid(ngx_str_t *name)
{
    size_t  i;

    if (name->len == 0 || name->len > 64) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        if (!((name->data[i] >= 'a' && name->data[i] <= 'z')
              || (name->data[i] >= 'A' && name->data[i] <= 'Z')
              || (name->data[i] >= '0' && name->data[i] <= '9')
              || name->data[i] == '_' || name->data[i] == '-'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_coze_auth_make_cookie(ngx_conf_t *cf,
    ngx_http_coze_auth_cookie_conf_t *cc, ngx_str_t *path, ngx_str_t *domain,
    ngx_str_t *samesite)
{
    u_char  *p;

    cc->state_prefix.len = cc->name.len + sizeof("_st_") - 1;
    cc->state_prefix.data = ngx_pnalloc(cf->pool, cc->state_prefix.len);
    if (cc->state_prefix.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(cc->state_prefix.data, cc->name.data, cc->name.len);
    ngx_memcpy(p, "_st_", sizeof("_st_") - 1);

    /* pre-rendered so that a request only copies it */
    cc->attrs.len = sizeof("; Path=") - 1 + path->len
                    + (domain->len ? sizeof("; Domain=") - 1 + domain->len : 0)
                    + sizeof("; HttpOnly; SameSite=") - 1 + samesite->len;

    cc->attrs.data = ngx_pnalloc(cf->pool, cc->attrs.len);
    if (cc->attrs.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(cc->attrs.data, "; Path=", sizeof("; Path=") - 1);
    p = ngx_cpymem(p, path->data, path->len);

    if (domain->len) {
        p = ngx_cpymem(p, "; Domain=", sizeof("; Domain=") - 1);
        p = ngx_cpymem(p, domain->data, domain->len);
    }

    p = ngx_cpymem(p, "; HttpOnly; SameSite=",
                   sizeof("; HttpOnly; SameSite=") - 1);
    ngx_memcpy(p, samesite->data, samesite->len);

    /*
     * the browser comes back from Coze in a cross-site navigation, which
     * carries Lax cookies but not Strict ones: login state is never Strict
     */
    if (samesite->len == sizeof("Strict") - 1) {
        cc->state_attrs.len = cc->attrs.len - 3;
        cc->state_attrs.data = ngx_pnalloc(cf->pool, cc->state_attrs.len);
        if (cc->state_attrs.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(cc->state_attrs.data, cc->attrs.data,
                       cc->attrs.len - samesite->len);
        ngx_memcpy(p, "Lax", 3);

    } else {
        cc->state_attrs = cc->attrs;
    }

    return NGX_OK;
}


char *
ngx_http_coze_auth_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    ngx_str_t                         *value, path, domain, samesite, v;
    ngx_uint_t                         i;
    ngx_http_coze_auth_cookie_conf_t  *cc;

    if (alcf->cookie != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    cc = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_cookie_conf_t));
    if (cc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&cc->name, "coze_session");
    ngx_str_set(&path, "/");
    ngx_str_null(&domain);
    ngx_str_set(&samesite, "Lax");
    cc->secure = NGX_HTTP_COZE_AUTH_SECURE_AUTO;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            cc->name.data = value[i].data + 5;
            cc->name.len = value[i].len - 5;

            if (ngx_http_coze_auth_cookie_name_valid(&cc->name) != NGX_OK) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "path=", 5) == 0) {
            path.data = value[i].data + 5;
            path.len = value[i].len - 5;

            if (path.len == 0 || path.data[0] != '/'
                || ngx_strlchr(path.data, path.data + path.len, ';'))
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0) {
            domain.data = value[i].data + 7;
            domain.len = value[i].len - 7;

            if (domain.len == 0
                || ngx_strlchr(domain.data, domain.data + domain.len, ';'))
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "secure=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            if (v.len == 4 && ngx_strncmp(v.data, "auto", 4) == 0) {
                cc->secure = NGX_HTTP_COZE_AUTH_SECURE_AUTO;

            } else if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
                cc->secure = NGX_HTTP_COZE_AUTH_SECURE_ON;

            } else if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
                cc->secure = NGX_HTTP_COZE_AUTH_SECURE_OFF;

            } else {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "samesite=", 9) == 0) {
            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

            if (v.len == 3 && ngx_strncasecmp(v.data, (u_char *) "lax", 3)
                              == 0)
            {
                ngx_str_set(&samesite, "Lax");

            } else if (v.len == 6
                       && ngx_strncasecmp(v.data, (u_char *) "strict", 6)
                          == 0)
            {
                ngx_str_set(&samesite, "Strict");

            } else if (v.len == 4
                       && ngx_strncasecmp(v.data, (u_char *) "none", 4) == 0)
            {
                ngx_str_set(&samesite, "None");

            } else {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (samesite.len == 4 && cc->secure == NGX_HTTP_COZE_AUTH_SECURE_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": samesite=none requires a Secure cookie "
                           "(secure=auto or secure=on)", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_coze_auth_make_cookie(cf, cc, &path, &domain, &samesite)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    alcf->cookie = cc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"", &value[i],
                       &cmd->name);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_coze_auth_default_cookie(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf)
{
    ngx_str_t                          path, domain, samesite;
    ngx_http_coze_auth_cookie_conf_t  *cc;

    cc = ngx_pcalloc(cf->pool, sizeof(ngx_http_coze_auth_cookie_conf_t));
    if (cc == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&cc->name, "coze_session");
    ngx_str_set(&path, "/");
    ngx_str_null(&domain);
    ngx_str_set(&samesite, "Lax");
    cc->secure = NGX_HTTP_COZE_AUTH_SECURE_AUTO;

    if (ngx_http_coze_auth_make_cookie(cf, cc, &path, &domain, &samesite)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    conf->cookie = cc;

    return NGX_OK;
}


char *
ngx_http_coze_auth_sec_or_off(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    time_t     *sp;
    ngx_str_t  *value;

    sp = (time_t *) (p + cmd->offset);

    if (*sp != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        *sp = 0;
        return NGX_CONF_OK;
    }

    *sp = ngx_parse_time(&value[1], 1);
    if (*sp == (time_t) NGX_ERROR || *sp == 0) {
        return "invalid value";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_sec_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_coze_auth_sec_bounds_t  *b = post;
    time_t                           *sp = data;

    ngx_str_t  *value;

    if (*sp >= b->low && *sp <= b->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    if (b->high == NGX_MAX_TIME_T_VALUE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be at least %Ts, got \"%V\"",
                           &value[0], b->low, &value[1]);

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be between %Ts and %Ts, got \"%V\"",
                           &value[0], b->low, b->high, &value[1]);
    }

    return NGX_CONF_ERROR;
}


char *
ngx_http_coze_auth_msec_positive(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    ngx_str_t  *value;

    if (*mp > 0) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be greater than zero, got \"%V\"",
                       &value[0], &value[1]);

    return NGX_CONF_ERROR;
}


/* ngx_conf_set_enum_slot(), with the directive and the choices named */

char *
ngx_http_coze_auth_enum_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char           *last, buf[256];
    ngx_str_t        *value;
    ngx_uint_t       *np, i;
    ngx_conf_enum_t  *e;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    e = cmd->post;

    for (i = 0; e[i].name.len; i++) {
        if (e[i].name.len == value[1].len
            && ngx_strncasecmp(e[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            *np = e[i].value;
            return NGX_CONF_OK;
        }
    }

    last = buf;

    for (i = 0; e[i].name.len; i++) {
        last = ngx_slprintf(last, buf + sizeof(buf), "%s%V",
                            i == 0 ? "" : (e[i + 1].name.len ? ", " : " or "),
                            &e[i].name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\": expected %*s",
                       &value[1], &cmd->name, (size_t) (last - buf), buf);

    return NGX_CONF_ERROR;
}


char *
ngx_http_coze_auth_token_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    size_t      i;
    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        field->len = 0;
        field->data = (u_char *) "";
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": empty header name", &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (!((value[1].data[i] >= 'a' && value[1].data[i] <= 'z')
              || (value[1].data[i] >= 'A' && value[1].data[i] <= 'Z')
              || (value[1].data[i] >= '0' && value[1].data[i] <= '9')
              || value[1].data[i] == '-' || value[1].data[i] == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": invalid header name \"%V\"",
                               &cmd->name, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    *field = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_readable_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *field = value[1];

    if (ngx_conf_full_name(cf->cycle, field, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (access((char *) field->data, R_OK) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": cannot read \"%V\"", &cmd->name, field);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_private_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_coze_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value, path, pem;
    ngx_uint_t   mode;

    if (alcf->private_key != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_http_coze_auth_read_file(cf, cmd, &path, &pem, &mode) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (mode & 0004) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": key file \"%V\" is readable by other "
                           "users", &cmd->name, &path);
    }

    if (ngx_http_coze_auth_load_pkey(cf, cmd, &path, &pem, "private key",
                                     &alcf->private_key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_coze_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coze_auth_main_conf_t *amcf = conf;

    u_char     *p;
    ssize_t     size;
    ngx_str_t  *value, name, s;

    if (amcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');
    if (p == NULL) {
        goto invalid;
    }

    name.data = value[1].data;
    name.len = p - name.data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (name.len == 0 || size == NGX_ERROR) {
        goto invalid;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": zone \"%V\" is too small, at least "
                           "%uik is needed", &cmd->name, &value[1],
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    amcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_coze_auth_module);
    if (amcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (amcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": zone \"%V\" is already used",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    amcf->shm_zone->init = ngx_http_coze_auth_init_zone;
    amcf->shm_zone->data = amcf;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid zone \"%V\" in \"%V\": name:size expected",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * Runs at the end of every merge: fills what the app config file gives,
 * derives URLs, and refuses combinations that cannot work.  Checks apply
 * where the settings are used: protected locations and endpoints.
 */

char *
ngx_http_coze_auth_finalize_conf(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf)
{
    char                            *msg;
    ngx_str_t                        s;
    ngx_uint_t                       type, used;
    ngx_http_coze_auth_str_t         out, empty;
    ngx_http_coze_auth_mem_t         mem;
    ngx_http_coze_auth_appconf_t    *app;
    ngx_http_coze_auth_main_conf_t  *amcf;

    ngx_http_coze_auth_mem_init(&mem, cf->pool);
    empty.len = 0;
    empty.data = (unsigned char *) "";

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coze_auth_module);

    app = conf->app;

    if (app) {

        /* a static token needs nothing from the app config */

        if (app->client_type.len
            && conf->client_type != NGX_HTTP_COZE_AUTH_TOKEN)
        {
            type = ngx_http_coze_auth_type_by_name(app->client_type.data,
                                                   app->client_type.len);

            if (type == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"coze_auth_app_config\": file \"%V\": "
                                   "client_type \"%*s\" cannot be used by "
                                   "a web server (web, pkce or jwt)",
                                   &conf->app_config, app->client_type.len,
                                   app->client_type.data);
                return NGX_CONF_ERROR;
            }

            if (conf->client_type == 0) {
                conf->client_type = type;
                ngx_str_set(&conf->client_type_src, "coze_auth_app_config");

            } else if (conf->client_type != type
                       && amcf->diag_type_app != app)
            {
                /*
                 * the directive wins (design: it overrides the file), but
                 * the type of a Coze app is fixed when it is created: a
                 * pkce app has no secret, a web app cannot log in without
                 * one; say so once per file
                 */
                amcf->diag_type_app = app;

                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "\"coze_auth_client_type %V\" overrides "
                                   "client_type \"%V\" of "
                                   "\"coze_auth_app_config\" \"%V\", but "
                                   "the type of a Coze app is fixed when it "
                                   "is created: Coze will refuse this app "
                                   "as a %V app",
                                   ngx_http_coze_auth_type_name(
                                       conf->client_type),
                                   ngx_http_coze_auth_type_name(type),
                                   &conf->app_config,
                                   ngx_http_coze_auth_type_name(
                                       conf->client_type));
            }
        }

#define ngx_http_coze_auth_fill(field, from)                                 \
        if (conf->field.len == 0 && app->from.len) {                         \
            conf->field.len = app->from.len;                                 \
            conf->field.data = app->from.data;                               \
        }

        ngx_http_coze_auth_fill(client_id, client_id);
        ngx_http_coze_auth_fill(client_secret, client_secret);
        ngx_http_coze_auth_fill(public_key_id, public_key_id);
        ngx_http_coze_auth_fill(api_base, coze_api_base);
        ngx_http_coze_auth_fill(www_base, coze_www_base);

#undef ngx_http_coze_auth_fill

        if (conf->private_key == NULL) {
            conf->private_key = conf->app_key;
        }
    }

    if (conf->client_type == 0) {
        conf->client_type = NGX_HTTP_COZE_AUTH_WEB;
    }

    if (conf->api_base.len == 0) {
        ngx_str_set(&conf->api_base, "https://api.coze.cn");

    } else if (ngx_http_coze_auth_check_url(&conf->api_base) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_app_config\": file \"%V\": "
                           "coze_api_base \"%V\" is not an http(s) URL",
                           &conf->app_config, &conf->api_base);
        return NGX_CONF_ERROR;
    }

    if (conf->www_base.len == 0) {
        if (ngx_http_coze_auth_www_from_api(&mem,
                                     ngx_http_coze_auth_str(&conf->api_base),
                                     &out)
            != NGX_HTTP_COZE_AUTH_OK)
        {
            return NGX_CONF_ERROR;
        }

        conf->www_base.len = out.len;
        conf->www_base.data = out.data;

    } else if (ngx_http_coze_auth_check_url(&conf->www_base) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_app_config\": file \"%V\": "
                           "coze_www_base \"%V\" is not an http(s) URL",
                           &conf->app_config, &conf->www_base);
        return NGX_CONF_ERROR;
    }

    s.len = conf->api_base.len + sizeof("/v1/users/me") - 1;
    s.data = ngx_pnalloc(cf->pool, s.len);
    if (s.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(ngx_cpymem(s.data, conf->api_base.data, conf->api_base.len),
               "/v1/users/me", sizeof("/v1/users/me") - 1);
    conf->userinfo_url = s;

    if (conf->jwt_account_id.len && conf->jwt_enterprise_id.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_jwt_account_id\" and "
                           "\"coze_auth_jwt_enterprise_id\" exclude each "
                           "other");
        return NGX_CONF_ERROR;
    }

    /* the account and enterprise token paths exist for JWT apps only */
    if (ngx_http_coze_auth_token_url(&mem,
                             ngx_http_coze_auth_str(&conf->api_base),
                             conf->client_type == NGX_HTTP_COZE_AUTH_JWT
                             ? ngx_http_coze_auth_str(&conf->jwt_account_id)
                             : &empty,
                             conf->client_type == NGX_HTTP_COZE_AUTH_JWT
                             ? ngx_http_coze_auth_str(&conf->jwt_enterprise_id)
                             : &empty,
                             &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_CONF_ERROR;
    }

    conf->token_url.len = out.len;
    conf->token_url.data = out.data;

    if (conf->jwt_scope.len
        && ngx_http_coze_auth_jwt_request(&mem, 900,
                                     ngx_http_coze_auth_str(&conf->jwt_scope),
                                     &out)
           != NGX_HTTP_COZE_AUTH_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coze_auth_jwt_scope\" must be a JSON object, "
                           "e.g. {\"account_permission\":{\"permission_list\":"
                           "[\"Connector.botChat\"]}}");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_coze_auth_jwt_aud(&mem,
                                   ngx_http_coze_auth_str(&conf->api_base),
                                   &out)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_CONF_ERROR;
    }

    conf->jwt_aud.len = out.len;
    conf->jwt_aud.data = out.data;

    if (conf->cookie == NULL) {
        if (ngx_http_coze_auth_default_cookie(cf, conf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    used = conf->enable == 1 || conf->endpoint != NGX_HTTP_COZE_AUTH_EP_NONE;

    if (!used) {
        return NGX_CONF_OK;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coze_auth_module);
    amcf->used = 1;

    if (conf->keyring == NULL) {
        if (!amcf->random_used) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "no \"coze_auth_session_key\" configured: "
                               "using a random key, sessions end when "
                               "nginx restarts or reloads");
            amcf->random_used = 1;
        }

        conf->keyring = &amcf->random_ring;
    }

    if (conf->endpoint == NGX_HTTP_COZE_AUTH_EP_STATUS
        || conf->endpoint == NGX_HTTP_COZE_AUTH_EP_REVOKE)
    {
        return NGX_CONF_OK;
    }

    msg = NULL;

    switch (conf->client_type) {

    case NGX_HTTP_COZE_AUTH_WEB:
    case NGX_HTTP_COZE_AUTH_PKCE:

        if (conf->client_id.len == 0) {
            msg = "\"coze_auth_client_id\" (or client_id in "
                  "\"coze_auth_app_config\") is required";
            break;
        }

        if (conf->client_type == NGX_HTTP_COZE_AUTH_WEB
            && conf->client_secret.len == 0)
        {
            msg = "a web app needs its secret: set "
                  "\"coze_auth_client_secret_file\" (or client_secret in "
                  "\"coze_auth_app_config\"), or use "
                  "\"coze_auth_client_type pkce\"";
            break;
        }

        if (conf->redirect_uri.len == 0) {
            msg = "\"coze_auth_redirect_uri\" is required for web and "
                  "pkce apps";
            break;
        }

        break;

    case NGX_HTTP_COZE_AUTH_JWT:

        if (conf->endpoint == NGX_HTTP_COZE_AUTH_EP_CALLBACK) {
            msg = "\"coze_auth_callback\" needs a web or pkce app, this "
                  "location's \"coze_auth_client_type\" is jwt";
            break;
        }

        if (conf->client_id.len == 0) {
            msg = "\"coze_auth_client_id\" (or client_id in "
                  "\"coze_auth_app_config\") is required";
            break;
        }

        if (conf->private_key == NULL) {
            msg = "a jwt app needs \"coze_auth_jwt_private_key_file\" (or "
                  "private_key in \"coze_auth_app_config\")";
            break;
        }

        if (conf->public_key_id.len == 0) {
            msg = "a jwt app needs \"coze_auth_jwt_public_key_id\" (or "
                  "public_key_id in \"coze_auth_app_config\")";
            break;
        }

        break;

    default: /* NGX_HTTP_COZE_AUTH_TOKEN */

        if (conf->endpoint == NGX_HTTP_COZE_AUTH_EP_CALLBACK) {
            msg = "\"coze_auth_callback\" needs a web or pkce app, this "
                  "location's \"coze_auth_client_type\" is token";
            break;
        }

        if (conf->static_token.len == 0) {
            msg = "\"coze_auth_client_type token\" needs "
                  "\"coze_auth_token_file\"";
        }

        break;
    }

    if (msg) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", msg);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_coze_auth_check_regions(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_http_coze_auth_check_server(cf, conf, amcf);

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_http_coze_auth_type_by_name(u_char *name, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_coze_auth_types[i].name.len; i++) {
        if (len == ngx_http_coze_auth_types[i].name.len
            && ngx_strncmp(name, ngx_http_coze_auth_types[i].name.data, len)
               == 0)
        {
            return ngx_http_coze_auth_types[i].type;
        }
    }

    return 0;
}


static ngx_str_t *
ngx_http_coze_auth_type_name(ngx_uint_t type)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_coze_auth_types[i].name.len; i++) {
        if (ngx_http_coze_auth_types[i].type == type) {
            break;
        }
    }

    return &ngx_http_coze_auth_types[i].name;
}


/* the host of an http(s) URL (as checked by ngx_http_coze_auth_check_url) */

static void
ngx_http_coze_auth_url_host(ngx_str_t *url, ngx_str_t *host)
{
    u_char  *p, *last, *at;

    host->len = 0;
    host->data = NULL;

    p = ngx_strlcasestrn(url->data, url->data + url->len,
                         (u_char *) "://", 3 - 1);
    if (p == NULL) {
        return;
    }

    p += 3;

    last = ngx_strlchr(p, url->data + url->len, '/');
    if (last == NULL) {
        last = url->data + url->len;
    }

    /* userinfo */
    for (at = last; at > p; at--) {
        if (at[-1] == '@') {
            p = at;
            break;
        }
    }

    if (p < last && *p == '[') {
        at = ngx_strlchr(p, last, ']');
        last = at ? at + 1 : last;

    } else {
        at = ngx_strlchr(p, last, ':');
        last = at ? at : last;
    }

    host->data = p;
    host->len = last - p;
}


/* host is the domain or one of its subdomains */

static ngx_uint_t
ngx_http_coze_auth_in_domain(ngx_str_t *host, ngx_str_t *domain)
{
    u_char  *d;
    size_t   len;

    d = domain->data;
    len = domain->len;

    if (len && d[0] == '.') {
        d++;
        len--;
    }

    if (len == 0 || host->len < len) {
        return 0;
    }

    if (ngx_strncasecmp(host->data + host->len - len, d, len) != 0) {
        return 0;
    }

    return host->len == len || host->data[host->len - len - 1] == '.';
}


static const char *
ngx_http_coze_auth_region(ngx_str_t *url)
{
    ngx_str_t  host, domain;

    ngx_http_coze_auth_url_host(url, &host);

    ngx_str_set(&domain, "coze.cn");

    if (ngx_http_coze_auth_in_domain(&host, &domain)) {
        return "coze.cn";
    }

    ngx_str_set(&domain, "coze.com");

    if (ngx_http_coze_auth_in_domain(&host, &domain)) {
        return "coze.com";
    }

    return NULL;
}


/*
 * A login starts on the www host and ends on the api host: both must be
 * of the same Coze region (the mock and private bases are not checked).
 */

static ngx_int_t
ngx_http_coze_auth_check_regions(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf)
{
    const char  *api, *www;

    api = ngx_http_coze_auth_region(&conf->api_base);
    www = ngx_http_coze_auth_region(&conf->www_base);

    if (api == NULL || www == NULL || api == www) {
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "Coze api base \"%V\" (%s) and www base \"%V\" (%s) "
                       "are in different regions: check "
                       "\"coze_auth_api_base\", \"coze_auth_www_base\" and "
                       "the coze_api_base and coze_www_base of "
                       "\"coze_auth_app_config\"",
                       &conf->api_base, api, &conf->www_base, www);

    return NGX_ERROR;
}


static ngx_uint_t
ngx_http_coze_auth_server_has_name(ngx_http_core_srv_conf_t *cscf,
    ngx_str_t *host)
{
    size_t                   len;
    ngx_str_t                domain;
    ngx_uint_t               i, names;
    ngx_http_server_name_t  *sn;

    names = 0;
    sn = cscf->server_names.elts;

    for (i = 0; i < cscf->server_names.nelts; i++) {

#if (NGX_PCRE)
        if (sn[i].regex) {
            names++;

            if (ngx_regex_exec(sn[i].regex->regex, host, NULL, 0) >= 0) {
                return 1;
            }

            continue;
        }
#endif

        len = sn[i].name.len;

        /* "" and "_": a catch-all server, not a name */
        if (len == 0 || (len == 1 && sn[i].name.data[0] == '_')) {
            continue;
        }

        names++;

        if (sn[i].name.data[0] == '*' || sn[i].name.data[0] == '.') {
            /* "*.example.com" and ".example.com" */
            domain.data = sn[i].name.data + 1;
            domain.len = len - 1;

            if (ngx_http_coze_auth_in_domain(host, &domain)
                && (sn[i].name.data[0] == '.' || host->len > domain.len))
            {
                return 1;
            }

            continue;
        }

        if (sn[i].name.data[len - 1] == '*') {
            /* "www.example.*" */
            if (host->len >= len
                && ngx_strncasecmp(host->data, sn[i].name.data, len - 1)
                   == 0)
            {
                return 1;
            }

            continue;
        }

        if (host->len == len
            && ngx_strncasecmp(host->data, sn[i].name.data, len) == 0)
        {
            return 1;
        }
    }

    /* a server without names takes any host */
    return names == 0;
}


static ngx_uint_t
ngx_http_coze_auth_server_has_ssl(ngx_conf_t *cf,
    ngx_http_core_srv_conf_t *cscf)
{
    ngx_uint_t                   p, a, s;
    ngx_http_conf_port_t        *port;
    ngx_http_conf_addr_t        *addr;
    ngx_http_core_srv_conf_t   **server;
    ngx_http_core_main_conf_t   *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->ports == NULL) {
        return 0;
    }

    port = cmcf->ports->elts;

    for (p = 0; p < cmcf->ports->nelts; p++) {

        addr = port[p].addrs.elts;

        for (a = 0; a < port[p].addrs.nelts; a++) {

#if (nginx_version >= 1025000)
            if (!addr[a].opt.ssl && !addr[a].opt.quic) {
                continue;
            }
#else
            if (!addr[a].opt.ssl) {
                continue;
            }
#endif

            server = addr[a].servers.elts;

            for (s = 0; s < addr[a].servers.nelts; s++) {
                if (server[s] == cscf) {
                    return 1;
                }
            }
        }
    }

    return 0;
}


/*
 * Warnings about the server{} a used location is in, once per server:
 * the redirect URI must bring the browser back to this server, and a
 * Secure-only cookie needs https.
 */

static void
ngx_http_coze_auth_check_server(ngx_conf_t *cf,
    ngx_http_coze_auth_loc_conf_t *conf, ngx_http_coze_auth_main_conf_t *amcf)
{
    u_char                    *p, *last;
    ngx_str_t                  host, domain;
    ngx_http_core_srv_conf_t  *cscf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (cscf == NULL) {
        return;
    }

    if ((conf->client_type == NGX_HTTP_COZE_AUTH_WEB
         || conf->client_type == NGX_HTTP_COZE_AUTH_PKCE)
        && conf->redirect_uri.len && conf->redirect_uri.data[0] != '/'
        && (amcf->diag_redirect_srv != cscf
            || amcf->diag_redirect_uri != conf->redirect_uri.data))
    {
        amcf->diag_redirect_srv = cscf;
        amcf->diag_redirect_uri = conf->redirect_uri.data;

        ngx_http_coze_auth_url_host(&conf->redirect_uri, &host);

        /* a cookie domain shared with the callback's host is fine too */
        ngx_str_null(&domain);

        p = ngx_strlcasestrn(conf->cookie->attrs.data,
                             conf->cookie->attrs.data
                             + conf->cookie->attrs.len,
                             (u_char *) "; Domain=", 9 - 1);
        if (p) {
            p += 9;
            last = ngx_strlchr(p, conf->cookie->attrs.data
                                  + conf->cookie->attrs.len, ';');
            domain.data = p;
            domain.len = last ? (size_t) (last - p)
                              : (size_t) (conf->cookie->attrs.data
                                          + conf->cookie->attrs.len - p);
        }

        if (host.len
            && !ngx_http_coze_auth_server_has_name(cscf, &host)
            && !(domain.len && ngx_http_coze_auth_in_domain(&host, &domain)))
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"coze_auth_redirect_uri\" \"%V\": host "
                               "\"%V\" matches no \"server_name\" of the "
                               "server \"%V\", the browser will come back "
                               "from Coze to another server",
                               &conf->redirect_uri, &host,
                               &cscf->server_name);
        }
    }

    if (conf->cookie->secure == NGX_HTTP_COZE_AUTH_SECURE_ON
        && amcf->diag_cookie_srv != cscf)
    {
        amcf->diag_cookie_srv = cscf;

        if (!ngx_http_coze_auth_server_has_ssl(cf, cscf)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"coze_auth_cookie\" secure=on, but the "
                               "server \"%V\" has no \"listen ... ssl\": "
                               "browsers drop Secure cookies on plain http "
                               "and sign-ins fail (fine if TLS ends in front "
                               "of nginx)", &cscf->server_name);
        }
    }
}

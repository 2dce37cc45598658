# nginx (Debian's package) with ngx_http_coze_auth_module enabled.
#
#   docker build -t nginx-coze-auth .
#   docker build --build-arg BASE=debian:bookworm -t nginx-coze-auth .
#   make image        (podman, no registry: see docs/deployment.md)
#
# BASE must be a Debian (or Debian-derived) image whose apt sources carry
# nginx and nginx-dev; both stages use it, so that the module is compiled
# against exactly the nginx the runtime stage installs.  Nothing but Debian
# packages is downloaded.

ARG BASE=debian:bookworm-slim

# ---------------------------------------------------------------------------
# build: compile the dynamic module against Debian's nginx (nginx-dev ships
# the configured source tree and its configure flags, conf_flags)

FROM ${BASE} AS build

ARG DEBIAN_FRONTEND=noninteractive
# extra compiler flags, as COZE_CC_OPT in the Makefile
ARG COZE_CC_OPT="-g -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2"

# policy-rc.d: the nginx package must not start a server during the build
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
 && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make nginx-dev \
        libcurl4-openssl-dev libjansson-dev libssl-dev libhiredis-dev \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && dpkg-query -W -f='${Version}' nginx > /nginx.version

COPY config /src/config
COPY ngx_http_coze_auth_module /src/ngx_http_coze_auth_module

# conf_flags is a bash array: configure runs under bash, whatever the
# image format's default shell
RUN mkdir /build \
 && cd /usr/share/nginx/src \
 && bash -c '. ./conf_flags && exec ./configure "${NGX_CONF_FLAGS[@]}" "$@"' \
        configure \
        --with-cc-opt="${COZE_CC_OPT} -fPIC" \
        --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
        --add-dynamic-module=/src --builddir=/build > /build/configure.log \
 && make -f /build/Makefile -C /usr/share/nginx/src -j"$(nproc)" modules \
        > /build/make.log \
 && strip --strip-unneeded /build/ngx_http_coze_auth_module.so \
 && echo 'load_module /build/ngx_http_coze_auth_module.so; events {}' \
        > /build/load-test.conf \
 && nginx -t -q -c /build/load-test.conf

# ---------------------------------------------------------------------------
# runtime: Debian's nginx, the module's libraries, the module, enabled the
# way Debian's libnginx-mod-* packages enable theirs

FROM ${BASE}

ARG DEBIAN_FRONTEND=noninteractive

# the exact nginx version the module was built against
COPY --from=build /nginx.version /tmp/nginx.version

RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
 && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        "nginx=$(cat /tmp/nginx.version)" libcurl4 libjansson4 libhiredis0.14 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d /tmp/nginx.version

COPY --from=build /build/ngx_http_coze_auth_module.so /usr/lib/nginx/modules/

RUN mkdir -p /usr/share/nginx/modules-available \
 && echo 'load_module modules/ngx_http_coze_auth_module.so;' \
        > /usr/share/nginx/modules-available/mod-http-coze-auth.conf \
 && ln -s /usr/share/nginx/modules-available/mod-http-coze-auth.conf \
        /etc/nginx/modules-enabled/50-mod-http-coze-auth.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && nginx -t

EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

# Packaging: Debian package and container image (included by Makefile).
#
#   make deb          build/deb/libnginx-mod-http-coze-auth_<version>_<arch>.deb
#                     (debhelper + dh-sequence-nginx; as root, installs the
#                     build dependencies; DEB_VERSION=... overrides the version)
#   make test-deb     build it, install it with apt-get, nginx -t with the
#                     module enabled, purge it (root)
#   make image        build the Dockerfile with podman (no registry) and save
#                     it to build/image/nginx-coze-auth.tar (root)
#   make test-image   build it and smoke-test a login against the mock Coze
#                     inside the container (root)

.PHONY: deb test-deb image test-image

deb:
	pkg/build-deb.sh

test-deb: deb
	pkg/test-deb.sh

image:
	pkg/image.sh build

test-image:
	pkg/image.sh test

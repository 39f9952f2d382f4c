# otelcol-prodscope: the distribution's container image.
#
# Built FROM scratch, from the build context only (nothing is pulled): the
# static binary of the target platform (`make image` cross-compiles one per
# platform from the sources `make build` generates, CGO_ENABLED=0, into
# _build/<os>_<arch>/) and the CA certificates `make image` copies from the
# host. See `make image` and docs/deploy.md.
#
# The default config is config/gateway.yaml, which runs anywhere: it listens on
# all addresses (K8S_POD_IP below), needs no Kubernetes API, and queues on disk
# until its vendor endpoints (environment, see the config) are set. Kubernetes
# mounts the generated ConfigMap over /etc/otelcol-prodscope, sets K8S_POD_IP
# to the pod's IP and its own command and args (deploy/kubernetes/base). To run
# another config, override the entrypoint:
#   docker run --entrypoint /otelcol-prodscope IMAGE --config=/path/config.yaml
FROM scratch

ARG VERSION=0.1.0
ARG REVISION=unknown
# Set by BuildKit (docker buildx) per platform; `make image` passes them to
# the classic builder.
ARG TARGETOS=linux
ARG TARGETARCH=amd64

LABEL org.opencontainers.image.title="otelcol-prodscope" \
      org.opencontainers.image.description="prodscope: an OpenTelemetry Collector distribution (cardinalityguard, logtracejoin, honeycombevents, pprofscrape)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/prodscope/prodscope" \
      org.opencontainers.image.documentation="https://github.com/prodscope/prodscope/blob/main/docs/deploy.md" \
      org.opencontainers.image.vendor="prodscope" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="scratch"

COPY _build/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY config/gateway.yaml /etc/otelcol-prodscope/config.yaml
# The file_storage directory, owned by the collector's user (see the README in it).
COPY --chown=10001:10001 deploy/docker/var-lib-otelcol-prodscope /var/lib/otelcol-prodscope
COPY _build/${TARGETOS}_${TARGETARCH}/otelcol-prodscope /otelcol-prodscope

# The health check and the self-metrics listen on ${env:K8S_POD_IP}: outside
# Kubernetes, on every address of the container.
ENV K8S_POD_IP=0.0.0.0

USER 10001:10001

# OTLP gRPC, OTLP HTTP, libhoney, health_check, self-metrics.
EXPOSE 4317 4318 8088 13133 8888

ENTRYPOINT ["/otelcol-prodscope", "--config=/etc/otelcol-prodscope/config.yaml", "--feature-gates=service.profilesSupport"]

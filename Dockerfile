# otelcol-prodscope: the distribution's container image.
#
# Built FROM scratch, from the build context only (nothing is pulled): the
# static binary `make build` produces (CGO_ENABLED=0) and the CA certificates
# `make image` copies from the host. See `make image` and docs/deploy.md.
#
# The default config is config/agent.yaml; Kubernetes mounts the generated
# ConfigMap over /etc/otelcol-prodscope and sets its own command and args
# (deploy/kubernetes/base). To run another config, override the entrypoint:
#   docker run --entrypoint /otelcol-prodscope IMAGE --config=/path/config.yaml
FROM scratch

ARG VERSION=0.1.0
ARG REVISION=unknown

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
COPY config/agent.yaml /etc/otelcol-prodscope/config.yaml
# The file_storage directory, owned by the collector's user (see the README in it).
COPY --chown=10001:10001 deploy/docker/var-lib-otelcol-prodscope /var/lib/otelcol-prodscope
COPY _build/otelcol-prodscope /otelcol-prodscope

USER 10001:10001

# OTLP gRPC, OTLP HTTP, health_check.
EXPOSE 4317 4318 13133

ENTRYPOINT ["/otelcol-prodscope", "--config=/etc/otelcol-prodscope/config.yaml", "--feature-gates=service.profilesSupport"]

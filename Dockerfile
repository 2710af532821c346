# The RouteMQ sample app. Route files load through tsx at run time, so no build step is needed.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY app ./app
COPY routers ./routers
COPY config ./config
COPY tsconfig.json ./
ENV NODE_ENV=production LOG_PRETTY=false
USER node
CMD ["node", "bin/routemq.js", "start"]

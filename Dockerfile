# One image for the worker and the gateway; docker-compose.yml picks the command and holds the healthchecks. Node 22
# LTS: Node 20 is past its end of life.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The workflows are bundled here, once: every worker started from the image loads dist/workflow-bundle.js instead of
# running webpack at start (src/temporal/worker.ts, workerWorkflowBundle).
RUN npm run build && npm run build:bundle && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's files stay root's: the app, running as node, can read them but not change them.
USER node
CMD ["node", "dist/worker.js"]

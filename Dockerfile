# The kk worker image used by docker-compose.yml. Every source directory the CLI or the workflow bundle imports is
# copied (test/dockerfile.test.ts runs kk from exactly these files), then compiled to dist/ (bin/kk.js runs it; the
# sources stay as the build's stamp and tsx's fallback).
FROM node:20-bookworm-slim
WORKDIR /opt/kk
COPY package.json package-lock.json ./
# With the dev dependencies: the build below needs TypeScript (and the @types it type-checks against); pruned after it.
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY tsconfig.json tsconfig.build.json ./
COPY activities ./activities
COPY cli ./cli
COPY config ./config
COPY pki ./pki
COPY precheck ./precheck
COPY registry ./registry
COPY runtime ./runtime
COPY worker ./worker
COPY workflows ./workflows
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
ENV KK_WORKDIR=/work/kubekey
ENTRYPOINT ["node", "bin/kk.js"]
CMD ["worker"]

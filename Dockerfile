# The kk worker image used by docker-compose.yml. Every source directory the CLI or the workflow bundle imports is
# copied (test/dockerfile.test.ts runs kk from exactly these files).
FROM node:20-bookworm-slim
WORKDIR /opt/kk
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY activities ./activities
COPY cli ./cli
COPY config ./config
COPY pki ./pki
COPY precheck ./precheck
COPY registry ./registry
COPY runtime ./runtime
COPY worker ./worker
COPY workflows ./workflows
ENV KK_WORKDIR=/work/kubekey
ENTRYPOINT ["node", "bin/kk.js"]
CMD ["worker"]

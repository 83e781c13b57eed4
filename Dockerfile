# Bollard in a container. The embedded PostgreSQL works here too; for
# production point DATABASE_URL at a managed PostgreSQL and use S3 storage.
FROM node:24-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations

RUN useradd --system --create-home --home-dir /var/lib/bollard bollard \
 && mkdir -p /var/lib/bollard/data && chown -R bollard /var/lib/bollard
USER bollard

ENV BOLLARD_LISTEN=0.0.0.0:5000 \
    BOLLARD_DATA_DIR=/var/lib/bollard/data \
    NODE_ENV=production
VOLUME ["/var/lib/bollard/data"]
EXPOSE 5000
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/bollard.js"]
CMD ["serve"]

# One image for the panel and the host agent (the agent needs /dev/kvm and
# /dev/net/tun passed through). Built from Debian and the npm registry only.
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 esbuild
COPY . .
RUN node scripts/build.mjs
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data NEXT_TELEMETRY_DISABLED=1
EXPOSE 3000
CMD ["sh", "-c", "node scripts/migrate.mjs && node_modules/.bin/tsx server/images/registerBuiltin.ts && exec node_modules/.bin/tsx server/main.ts"]

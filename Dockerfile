# Sluice: one image for `sluice worker`, `sluice scheduler` and `sluice api`.
# Build: docker build -t sluice .   (docker-compose.yml builds it for its services)

# --- build: the Swift toolchain image with the C libraries' headers (zlib for gzip imports) ---
# Hummingbird 2.28 needs swift-tools-version 6.2: the toolchain image must be 6.2 or newer
# (these machines run 6.3.1).
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev librabbitmq-dev libhiredis-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest names the test targets too, so their folders come along (they are not built).
# Plugins/ and docs/openapi.json: the API's document is embedded at build time (EmbedOpenAPI), so
# the binary carries it and needs no resource file beside it.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY Plugins ./Plugins
COPY docs/openapi.json ./docs/openapi.json
RUN swift package resolve
RUN swift build -c release --product sluice --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/sluice" /out/sluice

# --- run: slim Debian with the runtime libraries only ---
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 librabbitmq4 libhiredis0.14 zlib1g ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /srv/sluice sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY jobs /srv/sluice/jobs
WORKDIR /srv/sluice
USER sluice
ENV SLUICE_CATALOG=/srv/sluice/jobs
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["api", "--host", "0.0.0.0"]

# scobot: a cgo build (go-sqlite3 needs gcc), then a small non-root runtime image.
# The build command is the README's and CI's: go build ./cmd/scobot.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/scobot ./cmd/scobot

# The same Debian release as the build stage, so the binary finds the same libc.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data scobot \
    && mkdir -p /data /kb && chown scobot /data /kb
COPY --from=build /out/scobot /usr/local/bin/scobot
USER scobot
WORKDIR /data
# /data holds the query log (keep scobot.db, -wal and -shm together on one local volume).
# /kb is for answer files: mount a directory there and set SCOBOT_KB_DIR=/kb to use it
# instead of the built-in answers.
VOLUME ["/data", "/kb"]
ENV SCOBOT_ADDR=0.0.0.0:8080 \
    SCOBOT_DB=/data/scobot.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD ["/usr/local/bin/scobot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/scobot"]
CMD ["serve"]

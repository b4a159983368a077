# scobot: a cgo build (go-sqlite3 needs gcc), then a small non-root runtime image.
# The build command is the README's: go build ./cmd/scobot.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/scobot ./cmd/scobot

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data scobot \
    && mkdir -p /data /kb && chown scobot /data /kb
COPY --from=build /out/scobot /usr/local/bin/scobot
USER scobot
WORKDIR /data
VOLUME ["/data", "/kb"]
ENTRYPOINT ["/usr/local/bin/scobot"]

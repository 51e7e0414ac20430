# syntax=docker/dockerfile:1
# herald container image: a static binary on distroless, non-root, no shell.
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=abc1234 -t herald .   (or: make docker)

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so the download layer is cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/herald ./cmd/herald

# distroless/static: CA certificates (Slack, Twilio, Bot Framework over TLS),
# tzdata and /etc/passwd for the nonroot user; nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="ChatOps bot for incident communication: Slack/Teams to SMS and WhatsApp"
COPY --from=build /out/herald /herald
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/herald"]
CMD ["serve", "--config", "/etc/herald/herald.yaml"]

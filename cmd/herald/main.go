package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234"
// (make build does it). Without them, the commit comes from Go's VCS stamp.
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal shuts down gracefully; a second one kills at once
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

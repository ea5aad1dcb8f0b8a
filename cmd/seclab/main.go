// Command seclab runs Kubernetes security labs on local kind clusters.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/seclab/seclab/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

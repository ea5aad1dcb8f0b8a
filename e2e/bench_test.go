//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/cluster/kindtest"
	"github.com/seclab/seclab/internal/engine"
)

// BenchmarkStartVsKindCreate measures, in one run, a plain kind cluster
// creation from the same node image against `seclab start` on no cluster
// (create + images + canary + setup) and on a running cluster (reuse).
// Ratios are reported as metrics; nothing is asserted about time.
//
//	go test -tags e2e -run '^$' -bench StartVsKindCreate -benchtime 1x ./e2e/
func BenchmarkStartVsKindCreate(b *testing.B) {
	ctx := context.Background()
	var plain, cold, warm time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := kindtest.Create("seclab-bench-plain", foreignKubeconfig()); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(t0)
		deleteForeign("seclab-bench-plain")

		t0 = time.Now()
		if _, err := eng.Start(ctx, "netpol", engine.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		cold += time.Since(t0)

		t0 = time.Now()
		if _, err := eng.Start(ctx, "netpol", engine.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		warm += time.Since(t0)
		if _, err := eng.Down(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(plain.Seconds()/n, "s/kind-create")
	b.ReportMetric(cold.Seconds()/n, "s/start-cold")
	b.ReportMetric(warm.Seconds()/n, "s/start-warm")
	b.ReportMetric(cold.Seconds()/plain.Seconds(), "cold/kind")
	b.ReportMetric(warm.Seconds()/plain.Seconds(), "warm/kind")
}

// Command kindcluster creates and deletes the throwaway kind clusters the
// agent is tested on (real-cluster tests; there is no kind CLI here):
//
//	go run ./internal/cluster/kindtest/kindcluster create seclab-netagent-a [workers] [image]
//	go run ./internal/cluster/kindtest/kindcluster delete seclab-netagent-a
//
// KEEP=1 keeps the nodes of a failed create for debugging. The kubeconfig goes to $TMPDIR/<name>.kubeconfig. Only names starting with
// seclab-netagent- are accepted, so no other cluster is ever touched.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/seclab/seclab/assets"
	"sigs.k8s.io/kind/pkg/cmd"
	"sigs.k8s.io/kind/pkg/exec"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if re := exec.RunErrorForError(err); re != nil {
			os.Stderr.Write(re.Output)
		}
		fmt.Fprintln(os.Stderr, "kindcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: kindcluster create|delete NAME [workers] [image]")
	}
	verb, name := args[0], args[1]
	if !strings.HasPrefix(name, "seclab-netagent-") {
		return fmt.Errorf("cluster name must start with seclab-netagent-")
	}
	kubeconfig := filepath.Join(os.TempDir(), name+".kubeconfig")
	provider := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(cmd.NewLogger()))
	switch verb {
	case "create":
		workers, image := 1, assets.Version("NODE_IMAGE")
		if len(args) > 2 {
			n, err := strconv.Atoi(args[2])
			if err != nil {
				return err
			}
			workers = n
		}
		if len(args) > 3 {
			image = args[3]
		}
		cfg := "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n" +
			strings.Repeat("- role: worker\n", workers)
		start := time.Now()
		err := provider.Create(name, cluster.CreateWithNodeImage(image), cluster.CreateWithRawConfig([]byte(cfg)),
			cluster.CreateWithWaitForReady(3*time.Minute), cluster.CreateWithKubeconfigPath(kubeconfig),
			cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false),
			cluster.CreateWithRetain(os.Getenv("KEEP") != ""))
		if err != nil {
			return err
		}
		fmt.Printf("cluster %s ready in %s; KUBECONFIG=%s\n", name, time.Since(start).Round(time.Second), kubeconfig)
	case "delete":
		if err := provider.Delete(name, kubeconfig); err != nil {
			return err
		}
		os.Remove(kubeconfig)
		fmt.Printf("cluster %s deleted\n", name)
	default:
		return fmt.Errorf("unknown verb %q", verb)
	}
	return nil
}

//go:build ignore

// kindctl creates and deletes kind clusters through the sigs.k8s.io/kind library (there is no
// kind CLI on seclab's machines). scripts/airgap/selftest.sh builds it in a scratch module under
// the cache dir; the build tag keeps it out of the seclab module.
//
//	kindctl create -name N -image IMG -config kind.yaml -kubeconfig FILE [-wait 3m] [-retain]
//	kindctl delete -name N -kubeconfig FILE
//	kindctl list
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cmd"
)

// Only clusters with this prefix are ever deleted by this tool.
const ownedPrefix = "seclab-airgap-"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kindctl create|delete|list [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	name := fs.String("name", "", "cluster name")
	image := fs.String("image", "", "node image")
	config := fs.String("config", "", "kind config file (kind.x-k8s.io/v1alpha4)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file to write (create) or clean (delete)")
	wait := fs.Duration("wait", 3*time.Minute, "wait for the control plane to be Ready")
	retain := fs.Bool("retain", false, "keep the node containers when create fails (for debugging)")
	_ = fs.Parse(os.Args[2:])

	provider := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(cmd.NewLogger()))
	var err error
	switch os.Args[1] {
	case "create":
		var raw []byte
		if *config != "" {
			if raw, err = os.ReadFile(*config); err != nil {
				break
			}
		}
		err = provider.Create(*name,
			cluster.CreateWithNodeImage(*image),
			cluster.CreateWithRawConfig(raw),
			cluster.CreateWithWaitForReady(*wait),
			cluster.CreateWithKubeconfigPath(*kubeconfig),
			cluster.CreateWithRetain(*retain),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		)
	case "delete":
		if !strings.HasPrefix(*name, ownedPrefix) {
			err = fmt.Errorf("refusing to delete %q: only clusters named %s* are deleted here", *name, ownedPrefix)
			break
		}
		err = provider.Delete(*name, *kubeconfig)
	case "list":
		var names []string
		if names, err = provider.List(); err == nil {
			for _, n := range names {
				fmt.Println(n)
			}
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kindctl:", err)
		os.Exit(1)
	}
}

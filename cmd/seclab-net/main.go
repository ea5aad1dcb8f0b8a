// Command seclab-net is the CNI and NetworkPolicy agent of seclab's kind
// node image (see internal/netagent). It runs as a host-network DaemonSet.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seclab/seclab/internal/netagent"
)

func main() {
	if err := run(); err != nil {
		slog.Error("seclab-net", "err", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		nodeName    = flag.String("node-name", os.Getenv("NODE_NAME"), "this node's name (env NODE_NAME)")
		podSubnet   = flag.String("pod-subnet", os.Getenv("POD_SUBNET"), "cluster pod subnet(s), comma-separated (env POD_SUBNET); default: all nodes' podCIDRs")
		cniConf     = flag.String("cni-conf", "/etc/cni/net.d/10-seclab.conflist", "CNI config file to write")
		kubeconfig  = flag.String("kubeconfig", "", "kubeconfig (default: in-cluster config)")
		nftPath     = flag.String("nft", "nft", "nft binary")
		logLevelDbg = flag.Bool("v", false, "debug logging")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *logLevelDbg {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	if *nodeName == "" {
		return fmt.Errorf("no node name: set NODE_NAME or -node-name")
	}
	cidrs, err := netagent.ParseCIDRList(*podSubnet)
	if err != nil {
		return fmt.Errorf("pod subnet %q: %w", *podSubnet, err)
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	log.Info("starting", "node", *nodeName, "podSubnet", cidrs, "apiserver", cfg.Host)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	agent := netagent.New(client, netagent.Config{
		NodeName:     *nodeName,
		ClusterCIDRs: cidrs,
		CNIConfPath:  *cniConf,
		Host:         &netagent.LinuxHost{NFTPath: *nftPath},
		Log:          log,
	})
	return agent.Run(ctx)
}

// restConfig is the in-cluster config; kind's CONTROL_PLANE_ENDPOINT (the
// API server's address on the node network) replaces the Service address,
// which only works once kube-proxy has programmed it.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, err
	}
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	return cfg, nil
}

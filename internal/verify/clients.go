package verify

import (
	"fmt"

	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// NewEnv builds the clients checks use from a rest.Config. Nodes stays nil:
// the package that knows how the cluster's nodes are reached sets it.
func NewEnv(cfg *rest.Config) (*Env, error) {
	cfg = rest.CopyConfig(cfg)
	// A step's checks poll concurrently, several requests per attempt; the
	// client-go default of 5 QPS would make them queue behind each other.
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	// Discovery is fetched on first use and again whenever a kind is not
	// found, so CRDs installed during the lab are picked up.
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	return &Env{
		Client:     client,
		Dynamic:    dyn,
		Mapper:     mapper,
		Exec:       NewExecer(cfg, client),
		Admit:      newAdmitter(cfg, mapper),
		AsToken:    tokenClients(cfg),
		ProbeImage: DefaultProbeImage,
		Interval:   DefaultInterval,
	}, nil
}

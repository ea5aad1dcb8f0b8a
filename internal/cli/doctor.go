package cli

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/engine"
)

// finding is one doctor line. Required findings that fail make doctor exit 1.
type finding struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
}

// doctorReport is doctor's output: this machine, then what the running
// seclab cluster enforces (when there is one).
type doctorReport struct {
	Machine []finding      `json:"machine"`
	Cluster *clusterReport `json:"cluster,omitempty"`
}

type clusterReport struct {
	Name        string                `json:"name"`
	Enforcement []engine.CanaryResult `json:"enforcement,omitempty"`
	// Skipped says why there is no enforcement table.
	Skipped string `json:"skipped,omitempty"`
}

func doctorCmd() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check this machine (docker, node and lab images, kubectl, kernel features) and what the running seclab cluster enforces",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "cluster", Usage: "seclab cluster to test for enforcement (default: the active lab's)"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			e, asJSON, err := dataDeps(c)
			if err != nil {
				return err
			}
			var rep doctorReport
			add := func(name string, ok, required bool, detail string) {
				rep.Machine = append(rep.Machine, finding{name, ok, required, detail})
			}
			dockerOK := cluster.New(e.Log).Ping(c.Context) == nil
			add("docker engine", dockerOK, true, pick(dockerOK, "reachable", cluster.ErrDockerUnavailable.Error()))
			if dockerOK {
				img := cluster.NodeImage("")
				ok, _ := cluster.ImagePresent(c.Context, img)
				add("node image "+img, ok, true, pick(ok, "present", "missing: build it with make images (or set "+cluster.NodeImageEnv+")"))
				for _, img := range labImages(e) {
					ok, _ := cluster.ImagePresent(c.Context, img)
					add("lab image "+img, ok, false, pick(ok, "present (loaded into clusters offline)", "missing: labs using it need a registry; build it with make images"))
				}
			}
			_, kerr := exec.LookPath("kubectl")
			add("kubectl", kerr == nil, true, pick(kerr == nil, "in PATH", "not in PATH: the labs are done with kubectl; install it"))
			_, berr := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables")
			add("br_netfilter", berr == nil, true, pick(berr == nil, "bridged pod traffic passes netfilter (NetworkPolicy works)", "missing: NetworkPolicy on bridged pod traffic cannot be enforced"))
			cfg := kernelConfig()
			if cfg != "" {
				nft := strings.Contains(cfg, "CONFIG_NF_TABLES=y") || strings.Contains(cfg, "CONFIG_NF_TABLES=m")
				add("nf_tables", nft, true, pick(nft, "available", "missing: kube-proxy and the policy agent need nf_tables"))
				q := strings.Contains(cfg, "CONFIG_NFT_QUEUE=y") || strings.Contains(cfg, "CONFIG_NFT_QUEUE=m")
				add("nfqueue", q, false, pick(q, "available", "absent: kindnet's NetworkPolicy mode would silently enforce nothing; seclab's node image does not need it"))
			}
			if dockerOK {
				// The nodes' kernel is the docker engine's: ask it, as start does.
				if f, err := e.Clusters.KernelFeatures(c.Context); err == nil {
					aa := f[cluster.FeatureAppArmor]
					add("AppArmor", aa, false, pick(aa, "enabled in the docker engine's kernel", "not in the docker engine's kernel: the apparmor lab checks what was asked and the kubelet's refusal, never a confinement"))
				}
			}
			v2 := fileExists("/sys/fs/cgroup/cgroup.controllers")
			add("cgroup", true, false, pick(v2, "v2", "v1 (hybrid); Kubernetes >= 1.35 needs failCgroupV1: false, which seclab sets"))

			rep.Cluster, err = enforcement(c.Context, e, c.String("cluster"), dockerOK)
			if asJSON {
				if jerr := writeJSON(c.App.Writer, rep); jerr != nil {
					return jerr
				}
			} else {
				printDoctor(c.App.Writer, rep)
			}
			if err != nil {
				return err
			}
			for _, f := range rep.Machine {
				if f.Required && !f.OK {
					return &ExitError{Code: ExitFailed}
				}
			}
			return nil
		},
	}
}

// enforcement runs the canaries on the named cluster, or on the active
// lab's; without either there is nothing to test (nil). Not being able to
// test a named cluster is an error; the active lab's is only noted, since
// doctor is often run exactly when that cluster is gone.
func enforcement(ctx context.Context, e *engine.Engine, name string, dockerOK bool) (*clusterReport, error) {
	named := name != ""
	if !named {
		act, err := e.Current()
		if err != nil {
			return nil, nil
		}
		name = act.Progress.Cluster
	}
	rep := &clusterReport{Name: name}
	skip := func(err error) (*clusterReport, error) {
		rep.Skipped = err.Error()
		if named || errors.Is(err, context.Canceled) {
			return rep, err
		}
		return rep, nil
	}
	if !dockerOK {
		return skip(cluster.ErrDockerUnavailable)
	}
	if _, err := e.Clusters.Get(ctx, name); err != nil {
		return skip(err)
	}
	results, err := e.Enforcement(ctx, name)
	rep.Enforcement = results
	if err != nil {
		return skip(err)
	}
	return rep, nil
}

// printDoctor renders the report as two tables.
func printDoctor(w io.Writer, rep doctorReport) {
	var rows [][]string
	for _, f := range rep.Machine {
		mark := "✓"
		if !f.OK {
			mark = map[bool]string{true: "✗", false: "-"}[f.Required]
		}
		rows = append(rows, []string{mark + " " + f.Name, f.Detail})
	}
	table(w, rows)
	cr := rep.Cluster
	switch {
	case cr == nil:
		fmt.Fprintln(w, "\nNo seclab cluster to test for enforcement (start a lab, or pass --cluster NAME).")
		return
	case cr.Skipped != "":
		fmt.Fprintf(w, "\nEnforcement on cluster %s: not tested: %s\n", cr.Name, cr.Skipped)
		if len(cr.Enforcement) == 0 {
			return
		}
	default:
		fmt.Fprintf(w, "\nEnforcement on cluster %s:\n", cr.Name)
	}
	rows = [][]string{{"MECHANISM", "ENFORCED", "EVIDENCE"}}
	for _, r := range cr.Enforcement {
		rows = append(rows, []string{r.Title, string(r.Enforced), r.Evidence})
	}
	table(w, rows)
}

func labImages(e *engine.Engine) []string {
	seen := map[string]bool{engine.ProbeImage: true}
	out := []string{engine.ProbeImage}
	for _, l := range e.Catalog.Labs() {
		for _, img := range l.Images {
			if !seen[img] {
				seen[img] = true
				out = append(out, img)
			}
		}
	}
	return out
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// kernelConfig returns the running kernel's config, or "" if not exposed.
func kernelConfig() string {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return ""
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return ""
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return ""
	}
	return string(b)
}

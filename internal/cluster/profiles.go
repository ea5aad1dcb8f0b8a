package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/seclab/seclab/internal/strictyaml"
	"github.com/seclab/seclab/profiles"
)

// Profile is a kind of cluster a lab can ask for, read from a directory
// profiles/<name>/: profile.yaml, cluster.yaml (a kind v1alpha4 Cluster
// whose extraMounts name files of the directory) and those files.
type Profile struct {
	Name        string
	Description string
	// config is cluster.yaml as written: mounts relative to the directory.
	config *v1alpha4.Cluster
	// files are the directory's other files by relative path.
	files map[string][]byte
	// sum covers config and files but not the name: profiles with the same
	// content make the same cluster, so one serves the other's labs.
	sum string
}

// profileMeta is profile.yaml.
type profileMeta struct {
	Description string `json:"description"`
}

const (
	profileFile = "profile.yaml"
	clusterFile = "cluster.yaml"
)

// Profiles is a set of profiles by name.
type Profiles struct{ byName map[string]*Profile }

// Names returns the profile names, sorted.
func (ps *Profiles) Names() []string {
	names := make([]string, 0, len(ps.byName))
	for n := range ps.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the named profile.
func (ps *Profiles) Get(name string) (*Profile, error) {
	p, ok := ps.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown cluster profile %q (known: %s)", name, strings.Join(ps.Names(), ", "))
	}
	return p, nil
}

var builtin = sync.OnceValues(func() (*Profiles, error) { return LoadProfiles(profiles.FS) })

// Builtin returns the profiles compiled into seclab.
func Builtin() (*Profiles, error) { return builtin() }

// MustBuiltin is Builtin for tests and callers that cannot go on without
// it: an invalid built-in profile is a defect of the build.
func MustBuiltin() *Profiles {
	ps, err := builtin()
	if err != nil {
		panic(err)
	}
	return ps
}

// profileName keeps cluster names valid: seclab-<name>[-suffix]-worker2 is
// a container name and a hostname.
var profileName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$`)

// LoadProfiles reads every profile directory of fsys and reports every
// problem of every profile at once.
func LoadProfiles(fsys fs.FS) (*Profiles, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading profiles: %w", err)
	}
	ps := &Profiles{byName: map[string]*Profile{}}
	var errs *multierror.Error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := fs.Sub(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		p, perrs := loadProfile(sub, e.Name())
		errs = multierror.Append(errs, perrs...)
		if p != nil {
			ps.byName[p.Name] = p
		}
	}
	if len(ps.byName) == 0 && errs.ErrorOrNil() == nil {
		errs = multierror.Append(errs, fmt.Errorf("no profile directory found"))
	}
	if err := errs.ErrorOrNil(); err != nil {
		errs.ErrorFormat = profileProblems
		return nil, errs
	}
	return ps, nil
}

var profileProblems = strictyaml.ProblemList(func(n int) string {
	return fmt.Sprintf("invalid cluster profiles, %d problem(s)", n)
})

// loadProfile reads and validates one profile directory; a nil profile
// comes with at least one error.
func loadProfile(fsys fs.FS, name string) (*Profile, []error) {
	var errs []error
	bad := func(file, format string, args ...any) {
		errs = append(errs, fmt.Errorf("profiles/%s/%s: %s", name, file, fmt.Sprintf(format, args...)))
	}
	if !profileName.MatchString(name) {
		bad("", "the directory name must be 1-30 lowercase letters, digits and dashes (it becomes the cluster name)")
	}
	p := &Profile{Name: name, config: &v1alpha4.Cluster{}, files: map[string][]byte{}}

	var meta profileMeta
	if data, err := fs.ReadFile(fsys, profileFile); err != nil {
		bad(profileFile, "missing (it holds the profile's description)")
	} else {
		ps, _ := strictyaml.Decode(data, &meta)
		for _, pr := range ps {
			bad(profileFile, "%s", pr)
		}
		if strings.TrimSpace(meta.Description) == "" {
			bad(profileFile, "description: required")
		}
		p.Description = strings.TrimSpace(meta.Description)
	}

	data, err := fs.ReadFile(fsys, clusterFile)
	if err != nil {
		bad(clusterFile, "missing (a kind.x-k8s.io/v1alpha4 Cluster config)")
		return nil, errs
	}
	problems, decoded := strictyaml.Decode(data, p.config)
	for _, pr := range problems {
		bad(clusterFile, "%s", pr)
	}
	err = fs.WalkDir(fsys, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || f == profileFile || f == clusterFile {
			return err
		}
		b, err := fs.ReadFile(fsys, f)
		p.files[f] = b
		return err
	})
	if err != nil {
		bad("", "reading files: %v", err)
	}
	if decoded {
		for _, e := range p.validate(fsys) {
			bad(clusterFile, "%s", e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	p.sum = p.contentSum()
	return p, nil
}

// validate checks what the kind config may hold in a profile: seclab names
// the cluster, picks the node image and sets its own labels; mounts name
// the profile's own files; every file is mounted somewhere.
func (p *Profile) validate(fsys fs.FS) []string {
	var out []string
	c := p.config
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		out = append(out, fmt.Sprintf("kind/apiVersion: want Cluster, kind.x-k8s.io/v1alpha4 (found %q, %q)", c.Kind, c.APIVersion))
	}
	if c.Name != "" {
		out = append(out, "name: leave it out (seclab names the cluster seclab-<profile>)")
	}
	if len(c.Nodes) == 0 {
		out = append(out, "nodes: at least one control-plane node is needed")
	}
	controlPlanes := 0
	used := map[string]bool{}
	for i, n := range c.Nodes {
		at := fmt.Sprintf("nodes[%d]", i)
		switch n.Role {
		case v1alpha4.ControlPlaneRole:
			controlPlanes++
		case v1alpha4.WorkerRole:
		default:
			out = append(out, fmt.Sprintf("%s.role: want control-plane or worker (found %q)", at, n.Role))
		}
		if n.Image != "" {
			out = append(out, at+".image: leave it out (the node image is seclab's: assets/versions.env NODE_IMAGE, or --image)")
		}
		for k := range n.Labels {
			if strings.HasPrefix(k, "seclab.dev/") {
				out = append(out, fmt.Sprintf("%s.labels.%s: the seclab.dev/ labels are set by seclab", at, k))
			}
		}
		for j, m := range n.ExtraMounts {
			mat := fmt.Sprintf("%s.extraMounts[%d]", at, j)
			if !path.IsAbs(m.ContainerPath) {
				out = append(out, fmt.Sprintf("%s.containerPath: want an absolute path in the node (found %q)", mat, m.ContainerPath))
			}
			rel := m.HostPath
			if rel == "" || path.IsAbs(rel) || !fs.ValidPath(rel) {
				out = append(out, fmt.Sprintf("%s.hostPath: want a path relative to the profile directory, inside it (found %q)", mat, m.HostPath))
				continue
			}
			if rel == profileFile || rel == clusterFile {
				out = append(out, fmt.Sprintf("%s.hostPath: %s is seclab's, not a file to mount", mat, rel))
				continue
			}
			if _, err := fs.Stat(fsys, rel); err != nil {
				out = append(out, fmt.Sprintf("%s.hostPath: %q is not in the profile directory", mat, rel))
				continue
			}
			for f := range p.files {
				if f == rel || strings.HasPrefix(f, rel+"/") {
					used[f] = true
				}
			}
		}
	}
	if len(c.Nodes) > 0 && controlPlanes == 0 {
		out = append(out, "nodes: no node has role control-plane")
	}
	var unused []string
	for f := range p.files {
		if !used[f] {
			unused = append(unused, f)
		}
	}
	sort.Strings(unused)
	for _, f := range unused {
		out = append(out, fmt.Sprintf("%s is in the profile directory but no node mounts it (a typo in a hostPath?)", f))
	}
	return out
}

// contentSum hashes the decoded config (so comments and key order do not
// count) and the files.
func (p *Profile) contentSum() string {
	h := sha256.New()
	cfg, _ := json.Marshal(p.config) // map keys are sorted: stable
	fmt.Fprintf(h, "config %d\n%s\n", len(cfg), cfg)
	names := make([]string, 0, len(p.files))
	for f := range p.files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		fmt.Fprintf(h, "file %s %d\n", f, len(p.files[f]))
		h.Write(p.files[f])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hostPatches are added to every cluster for this host, not for a lab:
// the host is cgroup v1, and Kubernetes >= 1.35 refuses to start there
// unless told otherwise (the field is harmless before that).
var hostPatches = []string{"kind: KubeletConfiguration\nfailCgroupV1: false\n"}

// Hash identifies the cluster that profile p makes from nodeImage. It is
// recorded on the cluster's nodes; a cluster is reused only for the same
// hash. 32 hex digits fit a label value.
func (p *Profile) Hash(nodeImage string) string {
	h := sha256.Sum256([]byte(p.sum + "\n" + nodeImage + "\n" + strings.Join(hostPatches, "---\n")))
	return hex.EncodeToString(h[:16])
}

// Nodes is how many nodes the profile's cluster has.
func (p *Profile) Nodes() int { return len(p.config.Nodes) }

// ClusterName is the kind cluster name seclab uses for a profile. The
// prefix is half of the ownership test (see ownedProfile).
func (p *Profile) ClusterName() string { return clusterName(p.Name) }

// SuffixEnv, when set, gives seclab a separate set of clusters, named
// seclab-<profile>-<suffix>: it neither sees, reuses nor deletes clusters
// of another suffix (or of none). Tests run side by side with it.
const SuffixEnv = "SECLAB_CLUSTER_SUFFIX"

func clusterName(profile string) string {
	if s := os.Getenv(SuffixEnv); s != "" {
		return NamePrefix + profile + "-" + s
	}
	return NamePrefix + profile
}

// NamePrefix starts the name of every cluster seclab creates.
const NamePrefix = "seclab-"

// ProfileLabel is set on every node seclab creates; it is the other half of
// the ownership test and records the profile. HashLabel records
// Profile.Hash.
const (
	ProfileLabel = "seclab.dev/profile"
	HashLabel    = "seclab.dev/profile-hash"
)

// DefaultFilesDir is where profiles' files are written for kind to mount:
// $XDG_DATA_HOME/seclab/profiles, or ~/.local/share/seclab/profiles.
func DefaultFilesDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "seclab", "profiles"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for profile files: %w", err)
	}
	return filepath.Join(home, ".local", "share", "seclab", "profiles"), nil
}

// kindConfig renders the kind config for p from nodeImage: its files
// written under filesDir (in a directory of their own per hash, so a
// running cluster's mounts never change under it), mounts made absolute,
// seclab's labels and the host patches added.
func (p *Profile) kindConfig(filesDir, nodeImage string) (*v1alpha4.Cluster, error) {
	hash := p.Hash(nodeImage)
	cfg := p.config.DeepCopy() // the loaded profile stays as it is
	var dir string
	if len(p.files) > 0 {
		if filesDir == "" {
			return nil, fmt.Errorf("profile %s mounts files but no directory was given for them", p.Name)
		}
		dir = filepath.Join(filesDir, p.Name+"-"+hash[:12])
		if err := writeFiles(dir, p.files); err != nil {
			return nil, fmt.Errorf("profile %s: writing its files: %w", p.Name, err)
		}
	}
	for i := range cfg.Nodes {
		n := &cfg.Nodes[i]
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[ProfileLabel] = p.Name
		n.Labels[HashLabel] = hash
		for j := range n.ExtraMounts {
			n.ExtraMounts[j].HostPath = filepath.Join(dir, filepath.FromSlash(n.ExtraMounts[j].HostPath))
		}
	}
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, hostPatches...)
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg, nil
}

// writeFiles writes files under dir, each through a temporary file and a
// rename, so kind never mounts a half-written file.
func writeFiles(dir string, files map[string][]byte) error {
	for rel, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), dst)
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return werr
		}
	}
	return nil
}

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// fakeNode is a kind node whose containerd holds images (reference ->
// config digest, which is docker's image ID) and answers the commands
// seclab and kind's image loading run: ctr images ls / content get /
// images import, and containerd config dump.
type fakeNode struct {
	name, role string
	images     map[string]string
	imports    []string // what was imported, in order
	tags       []string // names given with ctr images tag, in order
	// readdress, when set, runs for the address-fixing script with its
	// old and new address.
	readdress func(was, now string) error
}

func (n *fakeNode) String() string              { return n.name }
func (n *fakeNode) Role() (string, error)       { return n.role, nil }
func (n *fakeNode) IP() (string, string, error) { return "172.18.0.2", "", nil }
func (n *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (n *fakeNode) Command(name string, args ...string) kindexec.Cmd {
	return &fakeCmd{node: n, argv: append([]string{name}, args...)}
}
func (n *fakeNode) CommandContext(_ context.Context, name string, args ...string) kindexec.Cmd {
	return n.Command(name, args...)
}

type fakeCmd struct {
	node           *fakeNode
	argv           []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (c *fakeCmd) SetEnv(...string) kindexec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) kindexec.Cmd { c.stdout = w; return c }
func (c *fakeCmd) SetStderr(w io.Writer) kindexec.Cmd { c.stderr = w; return c }
func (c *fakeCmd) fail(msg string) error {
	return &kindexec.RunError{Command: c.argv, Output: []byte(msg), Inner: errors.New("exit status 1")}
}

// manifestDigest is the fake's manifest digest for a config digest.
func manifestDigest(config string) string {
	return "sha256:manifest-of-" + strings.TrimPrefix(config, "sha256:")
}

func (c *fakeCmd) Run() error {
	out := c.stdout
	if out == nil {
		out = io.Discard
	}
	cmd := strings.Join(c.argv, " ")
	switch {
	case cmd == "containerd config dump":
		fmt.Fprint(out, "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"overlayfs\"\n")
	case strings.HasPrefix(cmd, "ctr --namespace=k8s.io images ls name=="):
		ref := strings.TrimPrefix(cmd, "ctr --namespace=k8s.io images ls name==")
		fmt.Fprintln(out, "REF TYPE DIGEST SIZE PLATFORMS LABELS")
		if id, ok := c.node.images[ref]; ok {
			fmt.Fprintf(out, "%s application/vnd.oci.image.manifest.v1+json %s 1.9 MiB linux/amd64 io.cri-containerd.image=managed\n", ref, manifestDigest(id))
		}
	case strings.HasPrefix(cmd, "ctr --namespace=k8s.io content get "):
		digest := strings.TrimPrefix(cmd, "ctr --namespace=k8s.io content get ")
		for _, id := range c.node.images {
			if manifestDigest(id) == digest {
				fmt.Fprintf(out, `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q}}`, id)
				return nil
			}
		}
		return c.fail("ctr: " + digest + ": not found")
	case len(c.argv) == 6 && cmd == "ctr --namespace=k8s.io images tag "+c.argv[4]+" "+c.argv[5]:
		id, ok := c.node.images[c.argv[4]]
		if !ok {
			return c.fail("ctr: image \"" + c.argv[4] + "\": not found")
		}
		if _, exists := c.node.images[c.argv[5]]; exists {
			return c.fail("ctr: image \"" + c.argv[5] + "\": already exists")
		}
		c.node.images[c.argv[5]] = id
		c.node.tags = append(c.node.tags, c.argv[5])
	case strings.HasPrefix(cmd, "ctr --namespace=k8s.io images import ") && strings.HasSuffix(cmd, " -"):
		// the fake archive is "REF ID" (fakeDocker.ImageSave)
		var b bytes.Buffer
		if _, err := io.Copy(&b, c.stdin); err != nil {
			return err
		}
		ref, id, ok := strings.Cut(b.String(), " ")
		if !ok {
			return c.fail("ctr: unpack: not an image archive")
		}
		c.node.images[normalizeRef(ref)] = id
		c.node.imports = append(c.node.imports, ref)
	case len(c.argv) == 6 && c.argv[0] == "sh" && c.argv[2] == readdressScript && c.node.readdress != nil:
		if err := c.node.readdress(c.argv[4], c.argv[5]); err != nil {
			if c.stderr != nil {
				fmt.Fprintln(c.stderr, err)
			}
			return c.fail(err.Error())
		}
	default:
		return c.fail("fakeNode: unexpected command: " + cmd)
	}
	return nil
}

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// LoadResult says what happened to one image.
type LoadResult struct {
	Image string
	// Loaded: copied into at least one node. Current: every node already had
	// this exact image. Missing: not in the local docker engine either.
	Loaded, Current, Missing bool
}

// LoadImages copies each image from the local docker engine into every node
// of the cluster that lacks that exact image (same image ID). Images absent
// locally are reported, not fatal: the node may already have them.
//
// Each image is also named by its repository digest in every node
// (registry.seclab.local/busybox@sha256:...), as a pull from a registry
// records it: an import names it only by its tag, and the kubelet looks a
// digest reference up by that name, so without it a pod pinned by digest
// would go to a registry that is not there.
func (m *Manager) LoadImages(ctx context.Context, cluster string, images []string) ([]LoadResult, error) {
	if len(images) == 0 {
		return nil, nil
	}
	if err := m.Ping(ctx); err != nil {
		return nil, err
	}
	all, err := m.nodes(cluster, "")
	if err != nil {
		return nil, err
	}
	var results []LoadResult
	for _, img := range images {
		res := LoadResult{Image: img}
		id, err := imageID(ctx, m.docker, img)
		if err != nil {
			return nil, err
		}
		if id == "" {
			res.Missing = true
			results = append(results, res)
			continue
		}
		var need []nodes.Node
		for _, n := range all {
			if nodeImageID(n, img) != id {
				need = append(need, n)
			}
		}
		if len(need) == 0 {
			res.Current = true
		} else {
			m.log.Info("loading image into nodes", "image", img, "nodes", len(need))
			if err := loadInto(ctx, m.docker, img, need); err != nil {
				return nil, err
			}
			res.Loaded = true
		}
		for _, n := range all {
			if err := nameByDigest(n, img); err != nil {
				return nil, err
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// ImageDigest returns the manifest digest (sha256:...) the cluster's nodes
// hold for img: what a pod names to pin that image. seclab builds its
// images on each machine, so the digest is known only there; every node
// must hold the same one.
func (m *Manager) ImageDigest(ctx context.Context, cluster, img string) (string, error) {
	if err := m.Ping(ctx); err != nil {
		return "", err
	}
	all, err := m.nodes(cluster, "")
	if err != nil {
		return "", err
	}
	var digest string
	for _, n := range all {
		d := nodeManifestDigest(n, img)
		switch {
		case d == "":
			return "", fmt.Errorf("image %s is not on node %s: seclab loads it at start from the local docker engine (missing there? build it with make images)", img, n.String())
		case digest != "" && d != digest:
			return "", fmt.Errorf("the nodes of cluster %s hold different images as %s (%s, %s): start the lab again to load one", cluster, img, digest, d)
		}
		digest = d
	}
	return digest, nil
}

// loadInto saves img once to a temp file and imports it into each node.
func loadInto(ctx context.Context, d dockerAPI, img string, targets []nodes.Node) error {
	rc, err := d.ImageSave(ctx, []string{img})
	if err != nil {
		return fmt.Errorf("saving image %s from docker: %w", img, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "seclab-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, rc); err != nil {
		return fmt.Errorf("saving image %s from docker: %w", img, err)
	}
	for _, n := range targets {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := nodeutils.LoadImageArchive(n, tmp); err != nil {
			return fmt.Errorf("loading image %s into node %s: %w", img, n.String(), err)
		}
	}
	return nil
}

// nameByDigest gives img, as the node holds it, the name repo@digest
// unless it has it already. An image named by digest in the lab has
// nothing to add.
func nameByDigest(n nodes.Node, img string) error {
	ref := normalizeRef(img)
	if strings.Contains(ref, "@") {
		return nil
	}
	digest := nodeManifestDigest(n, img)
	if digest == "" {
		return nil // not loaded into this node: nothing to name
	}
	pinned := repository(ref) + "@" + digest
	if nodeManifestDigest(n, pinned) == digest {
		return nil
	}
	var out bytes.Buffer
	if err := n.Command("ctr", "--namespace=k8s.io", "images", "tag", ref, pinned).SetStdout(&out).SetStderr(&out).Run(); err != nil {
		return fmt.Errorf("naming image %s by its digest (%s) in node %s: %w: %s", img, pinned, n.String(), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// nodeManifestDigest returns the manifest digest of img in the node's
// containerd (what `ctr images ls` shows), or "" when absent.
func nodeManifestDigest(n nodes.Node, img string) string {
	var out bytes.Buffer
	ref := normalizeRef(img)
	if err := n.Command("ctr", "--namespace=k8s.io", "images", "ls", "name=="+ref).SetStdout(&out).Run(); err != nil {
		return ""
	}
	var digest string
	for _, line := range strings.Split(out.String(), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ref {
			digest = f[2]
		}
	}
	return digest
}

// nodeImageID returns the config digest (= docker's image ID) of img in the
// node's containerd, or "" when absent. ctr only shows the manifest digest,
// so the manifest is read to find its config.
func nodeImageID(n nodes.Node, img string) string {
	digest := nodeManifestDigest(n, img)
	if digest == "" {
		return ""
	}
	var out bytes.Buffer
	if err := n.Command("ctr", "--namespace=k8s.io", "content", "get", digest).SetStdout(&out).Run(); err != nil {
		return ""
	}
	var manifest struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if json.Unmarshal(out.Bytes(), &manifest) != nil {
		return ""
	}
	return manifest.Config.Digest
}

// normalizeRef expands a short docker reference the way containerd stores
// it: nginx:1.27 -> docker.io/library/nginx:1.27.
func normalizeRef(img string) string {
	name := img
	first, _, hasSlash := strings.Cut(img, "/")
	if !hasSlash {
		return "docker.io/library/" + name
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io/" + name
	}
	return name
}

// repository is a normalized reference without its tag:
// registry.seclab.local:5000/busybox:1.36 -> registry.seclab.local:5000/busybox.
func repository(ref string) string {
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i]
	}
	return ref
}

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
			results = append(results, res)
			continue
		}
		m.log.Info("loading image into nodes", "image", img, "nodes", len(need))
		if err := loadInto(ctx, m.docker, img, need); err != nil {
			return nil, err
		}
		res.Loaded = true
		results = append(results, res)
	}
	return results, nil
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

// nodeImageID returns the config digest (= docker's image ID) of img in the
// node's containerd, or "" when absent. ctr only shows the manifest digest,
// so the manifest is read to find its config.
func nodeImageID(n nodes.Node, img string) string {
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
	if digest == "" {
		return ""
	}
	out.Reset()
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

// Package assets holds data files seclab's Go code and scripts share:
// versions.env (pinned versions and image names) and the CNI manifest.
package assets

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed versions.env
var versionsEnv string

// versions is versions.env parsed once.
var versions = parseEnv(versionsEnv)

// Version returns a key of versions.env. A missing key is a build defect,
// caught by the package's tests, so it panics.
func Version(key string) string {
	v, ok := versions[key]
	if !ok {
		panic(fmt.Sprintf("assets/versions.env has no %s", key))
	}
	return v
}

func parseEnv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Package profiles holds the cluster profiles compiled into seclab. Each
// directory is one profile: profile.yaml (seclab's fields), cluster.yaml (a
// kind v1alpha4 Cluster config whose extraMounts name files of the
// directory) and those files. Adding a directory adds a profile, no Go code
// needed; internal/cluster reads and validates them.
package profiles

import "embed"

// FS is every profile directory.
//
//go:embed */*
var FS embed.FS

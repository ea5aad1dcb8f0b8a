// Package labs holds the lab data compiled into seclab. Each directory with
// a lab.yaml is one lab; adding a directory adds a lab, no Go code needed.
package labs

import "embed"

// FS is every lab directory.
//
//go:embed *
var FS embed.FS

package cluster

import (
	"fmt"
	"log/slog"
	"strings"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger routes kind's progress messages into seclab's logger: level 0
// is progress the learner sees, higher levels are debug detail.
type kindLogger struct{ log *slog.Logger }

func (k kindLogger) Warn(msg string)           { k.log.Warn(msg) }
func (k kindLogger) Warnf(f string, a ...any)  { k.log.Warn(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(msg string)          { k.log.Error(msg) }
func (k kindLogger) Errorf(f string, a ...any) { k.log.Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(level kindlog.Level) kindlog.InfoLogger {
	return kindInfo{log: k.log, debug: level > 0}
}

type kindInfo struct {
	log   *slog.Logger
	debug bool
}

func (i kindInfo) Info(msg string) {
	// kind's status lines carry their own padding and blank lines.
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return
	}
	if i.debug {
		i.log.Debug(msg)
	} else {
		i.log.Info(msg)
	}
}
func (i kindInfo) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i kindInfo) Enabled() bool            { return true }

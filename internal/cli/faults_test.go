package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seclab/seclab/internal/state"
)

// Every command that needs docker says, in one line, that it is not
// reachable and exits 3 (runIn points DOCKER_HOST at nothing).
func TestDockerDownExits3(t *testing.T) {
	for _, args := range [][]string{
		{"start", "secrets"}, {"check"}, {"check", "--all"}, {"reset"}, {"down"}, {"down", "--all"},
		{"solution", "--apply", "1"}, {"answer", "x"}, {"status"}, {"status", "-o", "json"},
	} {
		withLab(t)
		_, errOut, code := runIn(t, context.Background(), args...)
		if code != ExitEnvError || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "seclab: docker is not reachable") ||
			!strings.Contains(errOut, "make docker") {
			t.Errorf("%v: exit %d, stderr %q; want 3 and one 'docker is not reachable' line", args, code, errOut)
		}
	}
	// the lab's commands name its cluster
	withLab(t)
	if _, errOut, _ := runIn(t, context.Background(), "check"); !strings.Contains(errOut, "cluster seclab-default cannot be reached") {
		t.Errorf("check: %q", errOut)
	}
}

// withEndedLab is withLab after seclab down, with an earlier completed run.
func withEndedLab(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	st, err := state.Open(filepath.Join(dir, "seclab"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.Local)
	err = st.Update(func(s *state.State) error {
		p := s.StartLab("secrets", "seclab-default", "kind-seclab-default", t0)
		for i := 1; i <= 4; i++ {
			p.MarkPassed(i, t0.Add(time.Duration(i)*time.Minute))
		}
		p.MarkCompleted(4, t0.Add(5*time.Minute))
		p = s.StartLab("secrets", "seclab-default", "kind-seclab-default", t0.Add(24*time.Hour))
		p.MarkPassed(1, t0.Add(25*time.Hour))
		p.SetAnswer(4, "guess")
		s.EndCluster("seclab-default", "deleted by seclab down", t0.Add(26*time.Hour))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// After down, status and list show what the learner did (no docker
// needed: there is no cluster to look at), and check says what to do.
func TestProgressShownAfterDown(t *testing.T) {
	withEndedLab(t)
	out, errOut, code := runIn(t, context.Background(), "status")
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"This run ended: its cluster was deleted by seclab down on 2026-11-21 11:00.",
		"  ✓ 1. Create a Secret from a file\n  · 2.",
		"To do the lab again: seclab start secrets (this record is kept).",
		"Earlier runs: 1 (best 4/4 steps); lab completed 1 time(s), first on 2026-11-20 09:05.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	out, _, _ = runIn(t, context.Background(), "status", "-o", "json")
	var v statusView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Ended == nil || v.EndReason != "deleted by seclab down" || v.Completions != 1 || len(v.History) != 1 || v.History[0].Passed != 4 || v.Problem != "" {
		t.Errorf("status json: %s", out)
	}

	out, _, _ = runIn(t, context.Background(), "list")
	if !strings.Contains(out, "1/4 steps (cluster gone), completed 2026-11-20") {
		t.Errorf("list:\n%s", out)
	}
	out, _, _ = runIn(t, context.Background(), "list", "-o", "json")
	var rows []labRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == "secrets" && (!r.Ended || r.Runs != 2 || r.Completed == nil || r.Passed != 1) {
			t.Errorf("list row: %+v", r)
		}
	}

	_, errOut, code = runIn(t, context.Background(), "check")
	if code != ExitEnvError || !strings.Contains(errOut, "was deleted by seclab down") || !strings.Contains(errOut, "run: seclab start secrets") {
		t.Errorf("check after down: exit %d, %q", code, errOut)
	}
}

// A live lab whose cluster cannot be looked at: status still shows the
// progress, and says why on stderr (exit 3).
func TestStatusShowsProgressWhenDockerIsDown(t *testing.T) {
	withLab(t)
	out, errOut, code := runIn(t, context.Background(), "status")
	if code != ExitEnvError || !strings.Contains(out, "Lab secrets:") || !strings.Contains(out, "Next: step 1") || !strings.HasPrefix(errOut, "seclab: docker is not reachable") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

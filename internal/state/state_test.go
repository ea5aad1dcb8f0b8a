package state

import (
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

func TestUpdateRoundTrip(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err = st.Update(func(s *State) error {
		p := s.StartLab("netpol", "seclab-netpol", "kind-seclab-netpol", now)
		p.MarkPassed(1, now)
		p.SetAnswer(2, "x")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Lab("netpol")
	if s.Current != "netpol" || p == nil || p.Cluster != "seclab-netpol" {
		t.Fatalf("state not saved: %+v", s)
	}
	if got := p.NextStep(3); got != 2 {
		t.Errorf("NextStep = %d, want 2", got)
	}
	if p.Answers[2] != "x" {
		t.Errorf("answer lost: %v", p.Answers)
	}
}

func TestNextStepAllPassed(t *testing.T) {
	p := &Progress{}
	for i := 1; i <= 3; i++ {
		p.MarkPassed(i, time.Now())
	}
	if got := p.NextStep(3); got != 4 {
		t.Errorf("NextStep = %d, want 4", got)
	}
}

// Deleting a cluster ends the runs on it and keeps everything they hold;
// runs on other clusters go on.
func TestEndClusterKeepsProgress(t *testing.T) {
	s := &State{}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := s.StartLab("a", "c1", "kind-c1", t0)
	a.MarkPassed(1, t0)
	a.SetAnswer(2, "x")
	s.StartLab("b", "c2", "kind-c2", t0)
	s.EndCluster("c2", "deleted by seclab down", t0.Add(time.Hour))
	s.EndCluster("c2", "deleted again", t0.Add(2*time.Hour))

	b := s.Lab("b")
	if s.Current != "b" || b == nil || b.Ended != t0.Add(time.Hour) || b.EndReason != "deleted by seclab down" {
		t.Errorf("lab b after its cluster went: current %q, %+v", s.Current, b)
	}
	if !a.Ended.IsZero() || a.Passed[1] != t0 || a.Answers[2] != "x" {
		t.Errorf("lab a on another cluster changed: %+v", a.Attempt)
	}
	s.EndCluster("c1", "deleted by seclab down", t0)
	if a.Passed[1] != t0 || a.Answers[2] != "x" {
		t.Errorf("ending a run dropped its progress: %+v", a.Attempt)
	}
}

// A new run starts with nothing passed; the one before it moves to the
// history with its passes, answers and completion, and the lab's first
// completion survives any number of later runs.
func TestNewRunKeepsHistory(t *testing.T) {
	s := &State{}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p := s.StartLab("a", "c1", "kind-c1", t0)
	for i := 1; i <= 3; i++ {
		p.MarkPassed(i, t0.Add(time.Duration(i)*time.Minute))
	}
	p.MarkCompleted(3, t0.Add(5*time.Minute))
	p.MarkCompleted(3, t0.Add(9*time.Minute)) // the first completion is kept
	s.EndCluster("c1", "deleted by seclab down", t0.Add(time.Hour))

	p = s.StartLab("a", "c1", "kind-c1", t0.Add(2*time.Hour))
	if len(p.Passed) != 0 || !p.Completed.IsZero() || !p.Ended.IsZero() || p.NextStep(3) != 1 {
		t.Errorf("the new run is not fresh: %+v", p.Attempt)
	}
	if len(p.History) != 1 {
		t.Fatalf("history %+v, want the earlier run", p.History)
	}
	h := p.History[0]
	if len(h.Passed) != 3 || h.Completed != t0.Add(5*time.Minute) || h.EndReason != "deleted by seclab down" {
		t.Errorf("earlier run: %+v", h)
	}

	p.MarkPassed(1, t0.Add(3*time.Hour))
	p.SetAnswer(2, "y")
	p = s.StartLab("a", "c1", "kind-c1", t0.Add(4*time.Hour)) // e.g. reset: a run without end
	if len(p.History) != 2 || p.History[1].Ended != t0.Add(4*time.Hour) || p.History[1].Answers[2] != "y" {
		t.Errorf("run ended by a new start: %+v", p.History)
	}
	s.StartLab("a", "c1", "kind-c1", t0.Add(5*time.Hour)) // the empty run is not kept
	if len(p.History) != 2 {
		t.Errorf("a run with nothing in it was archived: %d runs", len(p.History))
	}
	if got := p.FirstCompleted(); got != t0.Add(5*time.Minute) || p.Completions() != 1 || p.BestPassed() != 3 {
		t.Errorf("first completed %v, completions %d, best %d", got, p.Completions(), p.BestPassed())
	}
}

func TestMarkCompletedNeedsEveryStep(t *testing.T) {
	a := &Attempt{}
	a.MarkPassed(1, time.Now())
	a.MarkPassed(3, time.Now())
	a.MarkCompleted(3, time.Now())
	if !a.Completed.IsZero() {
		t.Errorf("completed with step 2 missing")
	}
}

// State files written before runs had a history load as the current run.
func TestOldStateFileLoads(t *testing.T) {
	st, _ := Open(t.TempDir())
	old := `{"current":"netpol","labs":{"netpol":{"cluster":"seclab-netpol","context":"kind-seclab-netpol","started":"2026-11-23T10:00:00Z","run":"r1","passed":{"1":"2026-11-23T10:05:00Z"},"answers":{"2":"x"}}}}`
	if err := os.WriteFile(st.Path(), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Lab("netpol")
	if p == nil || p.Cluster != "seclab-netpol" || p.Run != "r1" || len(p.Passed) != 1 || p.Answers[2] != "x" || len(p.History) != 0 {
		t.Errorf("old state: %+v", p)
	}
}

func TestUpdateErrorKeepsOldState(t *testing.T) {
	st, _ := Open(t.TempDir())
	_ = st.Update(func(s *State) error { s.Current = "old"; return nil })
	err := st.Update(func(s *State) error { s.Current = "new"; return os.ErrInvalid })
	if err == nil {
		t.Fatal("want error from fn")
	}
	s, _ := st.Load()
	if s.Current != "old" {
		t.Errorf("failed update was saved: %q", s.Current)
	}
}

func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	st, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(step int) {
			defer wg.Done()
			err := st.Update(func(s *State) error {
				p := s.Lab("x")
				if p == nil {
					p = s.StartLab("x", "c", "ctx", time.Now())
				}
				p.MarkPassed(step, time.Now())
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	s, _ := st.Load()
	if n := len(s.Lab("x").Passed); n != 20 {
		t.Errorf("passed steps = %d, want 20 (lost updates)", n)
	}
}

func TestCorruptFileIsReported(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	if err := os.WriteFile(st.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(); err == nil {
		t.Fatal("corrupt state loaded without error")
	}
}

// TestCrashMidWrite kills a child process between writing the new state and
// renaming it into place: the old state must survive intact.
func TestCrashMidWrite(t *testing.T) {
	if dir := os.Getenv("SECLAB_STATE_CRASH_DIR"); dir != "" {
		st, _ := Open(dir)
		beforeRename = func() { os.Exit(3) }
		_ = st.Update(func(s *State) error { s.Current = "half-written"; return nil })
		os.Exit(0) // not reached if the hook fired
	}
	dir := t.TempDir()
	st, _ := Open(dir)
	if err := st.Update(func(s *State) error { s.Current = "before-crash"; return nil }); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
	cmd.Env = append(os.Environ(), "SECLAB_STATE_CRASH_DIR="+dir)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("child did not crash at the hook: %v", err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatalf("state unreadable after crash: %v", err)
	}
	if s.Current != "before-crash" {
		t.Errorf("state after crash = %q, want before-crash", s.Current)
	}
	// The lock is released by the kernel and the leftover temp file does
	// not stop the next update.
	if err := st.Update(func(s *State) error { s.Current = "after"; return nil }); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.Load(); s.Current != "after" {
		t.Errorf("update after crash not saved: %q", s.Current)
	}
}

// Every start of a lab is a new run, even on the same cluster at the same
// time: that is how a check tells a reset happened while it ran.
func TestStartLabBeginsANewRun(t *testing.T) {
	s := &State{}
	now := time.Now()
	first := s.StartLab("a", "c1", "kind-c1", now).Run
	second := s.StartLab("a", "c1", "kind-c1", now).Run
	if first == "" || second == "" || first == second {
		t.Errorf("runs %q and %q: want two different non-empty ids", first, second)
	}
}

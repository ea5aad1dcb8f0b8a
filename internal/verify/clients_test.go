package verify

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestNewEnv(t *testing.T) {
	env, err := NewEnv(&rest.Config{Host: "https://127.0.0.1:6443"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Client == nil || env.Dynamic == nil || env.Mapper == nil || env.Exec == nil || env.Admit == nil {
		t.Errorf("env missing a client: %+v", env)
	}
	if env.Nodes != nil {
		t.Error("Nodes is set by another package")
	}
	if env.ProbeImage != DefaultProbeImage || env.Interval != DefaultInterval {
		t.Errorf("defaults: %q %v", env.ProbeImage, env.Interval)
	}
}

func TestCapped(t *testing.T) {
	c := &capped{max: 4}
	if n, err := c.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := c.Write([]byte("defg")); n != 4 || err != nil {
		t.Fatal(n, err) // reports all written so the stream does not fail
	}
	if c.String() != "abcd" {
		t.Errorf("kept %q", c.String())
	}
}

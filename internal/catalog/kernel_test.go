package catalog_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/verify"
)

const kernelLab = `id: k
title: T
domain: D
minutes: 5
profile: default
kernel:
  - {feature: apparmor, missing: "no AppArmor here"}
nodeSetup:
  - {when: apparmor, command: [apparmor_parser, --replace, /etc/apparmor.d/p]}
  - {command: ["true"]}
steps:
  - title: one
    text: s.md
    checks:
      - {name: both, keep: true, answer: {equals: x}}
      - {name: with, when: apparmor, answer: {equals: x}}
      - {name: without, when: "!apparmor", answer: {equals: x}}
    solution: {text: s.md, answer: x}
    nearMisses:
      - {name: nm-with, when: apparmor, answer: "wrong"}
      - {name: nm-always, answer: z}
  - title: two
    text: s.md
    checks:
      - {name: last, answer: {equals: x}}
    solution: {text: s.md, answer: x}
    nearMisses: [{name: nm, answer: "wrong"}]
`

func loadOne(t *testing.T, yaml string) (*catalog.Lab, error) {
	t.Helper()
	cat, err := catalog.Load(fstest.MapFS{"k/lab.yaml": {Data: []byte(yaml)}, "k/s.md": {Data: []byte("x")}}, opts)
	if err != nil {
		return nil, err
	}
	return cat.Get("k")
}

func names[T any](list []T, name func(T) string) string {
	var out []string
	for _, x := range list {
		out = append(out, name(x))
	}
	return strings.Join(out, ",")
}

// A lab runs with the checks, near-misses and node setup whose condition
// holds on this kernel; the rest are left out, not failed or passed.
func TestLabForKernel(t *testing.T) {
	lab, err := loadOne(t, kernelLab)
	if err != nil {
		t.Fatal(err)
	}
	check := func(s catalog.Step) string {
		return names(s.Checks, func(c verify.Spec) string { return c.Name })
	}
	with := lab.For(map[string]bool{"apparmor": true})
	without := lab.For(map[string]bool{"apparmor": false})
	if got := check(with.Steps[0]); got != "both,with" {
		t.Errorf("with AppArmor: checks %s", got)
	}
	if got := check(without.Steps[0]); got != "both,without" {
		t.Errorf("without AppArmor: checks %s", got)
	}
	if got := names(without.Steps[0].NearMisses, func(n catalog.NearMiss) string { return n.Name }); got != "nm-always" {
		t.Errorf("without AppArmor: near-misses %s", got)
	}
	if len(with.NodeSetup) != 2 || len(without.NodeSetup) != 1 || without.NodeSetup[0].Command[0] != "true" {
		t.Errorf("node setup with %v, without %v", with.NodeSetup, without.NodeSetup)
	}
	if len(lab.Steps[0].Checks) != 3 {
		t.Error("For must not change the lab itself")
	}
}

// A condition must name a declared feature; every step keeps a check on
// each kind of kernel.
func TestKernelValidation(t *testing.T) {
	bad := strings.NewReplacer(
		`{feature: apparmor, missing: "no AppArmor here"}`, `{feature: apparmor, missing: "x"}`+"\n  - {feature: tpm, missing: \"\"}",
		`{name: nm-with, when: apparmor, answer: "wrong"}`, `{name: nm-with, when: selinux, answer: "wrong"}`,
		`{name: both, keep: true, answer: {equals: x}}`, `{name: both, when: apparmor, keep: true, answer: {equals: x}}`,
	).Replace(kernelLab)
	_, err := loadOne(t, bad)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`kernel[1].feature: "tpm" is not a kernel feature seclab can tell (apparmor, seccomp, selinux)`,
		"kernel[1].missing: required",
		`steps[0].nearMisses[0].when: "selinux": want a feature the lab lists under kernel`,
		"steps[0].checks: no kept check runs on a kernel without apparmor",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	onlyWith := strings.NewReplacer(`{name: last, answer: {equals: x}}`, `{name: last, when: apparmor, answer: {equals: x}}`).Replace(kernelLab)
	if _, err := loadOne(t, onlyWith); err == nil || !strings.Contains(err.Error(), "steps[1].checks: no check runs on a kernel without apparmor") {
		t.Errorf("a step with no check on one kernel: %v", err)
	}
}

package verify

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// normalize must leave only JSON types: unstructured objects (and
// runtime.DeepCopyJSON, used for admission objects) panic on anything else.
func TestNormalizeGivesJSONTypes(t *testing.T) {
	in := map[string]any{
		"int":   3,
		"u":     uint16(4),
		"f32":   float32(0.5),
		"when":  time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"list":  []string{"a"},
		"v2map": map[any]any{"k": 1, 2: "two"},
	}
	out := normalize(in).(map[string]any)
	runtime.DeepCopyJSON(out) // panics on a non-JSON type
	if out["int"] != int64(3) || out["u"] != int64(4) || out["f32"] != 0.5 || out["when"] != "2024-01-02T03:04:05Z" {
		t.Errorf("normalize = %#v", out)
	}
	if m := out["v2map"].(map[string]any); m["2"] != "two" || m["k"] != int64(1) {
		t.Errorf("v2map = %#v", m)
	}
}

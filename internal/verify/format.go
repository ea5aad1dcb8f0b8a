package verify

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/duration"
)

// The learner reads Expected and Found side by side, so values are shown the
// way they would be written in a manifest, and always unambiguously: strings
// are Go-quoted so a trailing newline or space is visible.

// maxValue bounds one rendered value; maxOutput bounds command output excerpts.
const (
	maxValue  = 120
	maxOutput = 200
)

// render shows v compactly, in YAML flow style: strings quoted, numbers
// without exponent, maps with sorted keys ({port: 80, protocol: "TCP"}) and
// lists ([1, 2]) on one line, cut at maxValue.
func render(v any) string {
	if s, ok := v.(string); ok {
		return quote(s, maxValue)
	}
	var b strings.Builder
	writeFlow(&b, v)
	return clip(b.String(), maxValue)
}

func writeFlow(b *strings.Builder, v any) {
	switch t := v.(type) {
	case string:
		b.WriteString(strconv.Quote(t))
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(renderKey(k))
			b.WriteString(": ")
			writeFlow(b, t[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, e)
		}
		b.WriteByte(']')
	case nil, bool, json.Number, int64, float64:
		out, err := json.Marshal(t)
		if err != nil { // NaN or Inf, which JSON cannot hold
			out = []byte(fmt.Sprint(t))
		}
		b.Write(out)
	default:
		n := normalize(v)
		if reflect.TypeOf(n) == reflect.TypeOf(v) {
			b.WriteString(fmt.Sprint(v)) // normalize could not help
			return
		}
		writeFlow(b, n)
	}
}

// renderKey shows a map key bare when it is a plain word (or an operator
// like $gte) and quoted otherwise (app.kubernetes.io/name).
func renderKey(k string) string {
	if plainKey(k) || strings.HasPrefix(k, "$") && plainKey(k[1:]) {
		return k
	}
	return strconv.Quote(k)
}

// quote is %q of s cut to n runes; the cut is marked outside the quotes so
// it cannot be mistaken for part of the value.
func quote(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:n])) + "…"
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// plural renders "1 item", "2 items".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// ago renders the age of t like kubectl does ("3m", "2d4h").
func ago(t time.Time) string {
	return duration.HumanDuration(time.Since(t))
}

// fieldPath appends key to a dotted path; keys that are not plain words
// (label keys like app.kubernetes.io/name) get brackets so the path stays
// unambiguous.
func fieldPath(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// commandLine renders argv the way a learner would type it.
func commandLine(cmd []string) string {
	parts := make([]string, len(cmd))
	for i, a := range cmd {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}") {
			parts[i] = strconv.Quote(a)
		} else {
			parts[i] = a
		}
	}
	return clip(strings.Join(parts, " "), 60)
}

// excerpt shows the part of out that matters for want: when want looks like
// "--flag=value" or "key: value" and out has lines mentioning the key, those
// lines (a learner checking a 200-line manifest wants the line with the
// flag, not the first 200 characters); otherwise the start of out.
func excerpt(out, want string) string {
	if key := settingKey(want); key != "" {
		var hits []string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, key) {
				hits = append(hits, strings.TrimSpace(line))
				if len(hits) == 3 {
					break
				}
			}
		}
		if len(hits) > 0 {
			return "lines with " + strconv.Quote(key) + ": " + quote(strings.Join(hits, "\n"), maxOutput)
		}
	}
	return quote(out, maxOutput)
}

// settingKey returns the part of want before its first '=' or ':' when that
// part is long enough to be a meaningful search term.
func settingKey(want string) string {
	i := strings.IndexAny(want, "=:")
	if i < 3 {
		return ""
	}
	return strings.TrimSpace(want[:i])
}

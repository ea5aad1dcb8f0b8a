package verify

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secretObj(namespace, name string, typ corev1.SecretType, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       typ,
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestSecretPass(t *testing.T) {
	env, _ := testEnv(secretObj("default", "db", corev1.SecretTypeOpaque, map[string]string{"password": "pw", "user": "admin"}))
	r := quick(t, env, Spec{Secret: &SecretSpec{Name: "db", Type: "Opaque", Data: map[string]string{"password": "pw"}}})
	wantStatus(t, r, Pass)
}

func TestSecretTrailingNewlineIsVisible(t *testing.T) {
	env, _ := testEnv(secretObj("default", "db", corev1.SecretTypeOpaque, map[string]string{"password": "mysupersecretpassword\n"}))
	r := quick(t, env, Spec{Secret: &SecretSpec{Name: "db", Data: map[string]string{"password": "mysupersecretpassword"}}})
	wantStatus(t, r, Fail)
	if r.Expected != `key "password" = "mysupersecretpassword"` {
		t.Errorf("expected = %q", r.Expected)
	}
	if r.Found != `key "password" = "mysupersecretpassword\n"` {
		t.Errorf("found = %q", r.Found)
	}
}

func TestSecretMissingKeyListsKeysNotValues(t *testing.T) {
	env, _ := testEnv(secretObj("default", "db", corev1.SecretTypeOpaque, map[string]string{"mysecret": "hunter2"}))
	r := quick(t, env, Spec{Secret: &SecretSpec{Name: "db", Data: map[string]string{"password": "x"}}})
	wantStatus(t, r, Fail)
	if r.Found != `key "password" missing; keys present: mysecret` {
		t.Errorf("found = %q", r.Found)
	}
	wantNotContains(t, "found", r.Found, "hunter2")
}

func TestSecretTypeAndOnlyKeys(t *testing.T) {
	env, _ := testEnv(secretObj("n1", "tls", corev1.SecretTypeTLS, map[string]string{"tls.crt": "C", "tls.key": "PRIVATE-KEY", "password": "pw"}))
	r := quick(t, env, Spec{Secret: &SecretSpec{Namespace: "n1", Name: "tls", Type: "Opaque", OnlyKeys: true,
		Data: map[string]string{"password": "pw"}}})
	wantStatus(t, r, Fail)
	want := "type = \"kubernetes.io/tls\"\nextra keys: tls.crt, tls.key"
	if r.Found != want {
		t.Errorf("found = %q, want %q", r.Found, want)
	}
	wantContains(t, "expected", r.Expected, `type = "Opaque"`, `key "password" = "pw"`, "no other keys")
	wantNotContains(t, "found", r.Found, "PRIVATE-KEY", `"C"`)
}

func TestSecretNotFound(t *testing.T) {
	env, _ := testEnv(ns("default"))
	r := quick(t, env, Spec{Secret: &SecretSpec{Name: "db", Type: "Opaque"}})
	wantStatus(t, r, Fail)
	if r.Found != "not found" || r.Expected != "Secret default/db exists" {
		t.Errorf("expected %q found %q", r.Expected, r.Found)
	}
}

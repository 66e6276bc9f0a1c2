package main

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEnvError(t *testing.T) {
	yes := true
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Data: map[string]string{"mode": "fast"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{"token": []byte("t")}},
	)
	cmKey := func(name, key string, optional *bool) corev1.EnvVar {
		return corev1.EnvVar{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: optional}}}
	}
	secretKey := func(name, key string, optional *bool) corev1.EnvVar {
		return corev1.EnvVar{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: optional}}}
	}
	cases := []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    string
	}{
		{"plain values", []corev1.EnvVar{{Name: "A", Value: "1"}}, nil, ""},
		{"present keys", []corev1.EnvVar{cmKey("app", "mode", nil), secretKey("creds", "token", nil)}, nil, ""},
		{"missing configmap key", []corev1.EnvVar{cmKey("app", "colour", nil)}, nil, "couldn't find key colour in ConfigMap ns/app"},
		{"missing secret key", []corev1.EnvVar{secretKey("creds", "password", nil)}, nil, "couldn't find key password in Secret ns/creds"},
		{"missing configmap", []corev1.EnvVar{cmKey("nope", "k", nil)}, nil, `configmap "nope" not found`},
		{"missing secret", []corev1.EnvVar{secretKey("nope", "k", nil)}, nil, `secret "nope" not found`},
		{"optional missing key", []corev1.EnvVar{cmKey("app", "colour", &yes)}, nil, ""},
		{"optional missing secret", []corev1.EnvVar{secretKey("nope", "k", &yes)}, nil, ""},
		{"envFrom missing configmap", nil, []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}, `configmap "nope" not found`},
		{"envFrom optional secret", nil, []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: &yes}}}, ""},
		// envFrom is resolved before env, as in the kubelet.
		{"envFrom first", []corev1.EnvVar{cmKey("app", "colour", nil)}, []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}, `secret "nope" not found`},
	}
	for _, tc := range cases {
		c := &corev1.Container{Name: "main", Env: tc.env, EnvFrom: tc.envFrom}
		if got := envError(context.Background(), client, "ns", c); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestBehaviourOf(t *testing.T) {
	cases := []struct {
		image   string
		command []string
		args    []string
		want    behaviour
	}{
		{"nginx:1.27", nil, nil, behaviour{forever: true, handlesSIGTERM: true}},
		{"busybox:1.36", nil, nil, behaviour{}},
		{"busybox", []string{"sleep", "infinity"}, nil, behaviour{forever: true}},
		{"busybox", []string{"sleep"}, []string{"5"}, behaviour{runFor: 5 * time.Second}},
		{"busybox", []string{"sleep", "0.5"}, nil, behaviour{runFor: 500 * time.Millisecond}},
		{"busybox", []string{"sleep", "2m"}, nil, behaviour{runFor: 2 * time.Minute}},
		{"busybox", []string{"true"}, nil, behaviour{}},
		{"busybox", []string{"false"}, nil, behaviour{exitCode: 1}},
		{"busybox", []string{"sh", "-c", "exit 3"}, nil, behaviour{exitCode: 3}},
		{"busybox", []string{"/bin/sh", "-c", "echo hi; exit 1"}, nil, behaviour{exitCode: 1}},
		{"busybox", []string{"sh", "-c"}, []string{"sleep 2; exit 4"}, behaviour{runFor: 2 * time.Second, exitCode: 4}},
		{"busybox", []string{"sh", "-c", "false || exit 0"}, nil, behaviour{}},
		{"busybox", []string{"sh", "-c", "false && sleep 9"}, nil, behaviour{exitCode: 1}},
		{"busybox", []string{"sh", "-c", "exit 2; sleep 9"}, nil, behaviour{exitCode: 2}},
		{"busybox", []string{"sh", "-c", "echo 'a; exit 7'"}, nil, behaviour{}},
		{"busybox", []string{"sh", "-c", "while true; do sleep 1; done"}, nil, behaviour{forever: true}},
		{"busybox", nil, []string{"sleep", "3"}, behaviour{runFor: 3 * time.Second}},
		{"python", []string{"python", "app.py"}, nil, behaviour{forever: true, handlesSIGTERM: true}},
	}
	for _, c := range cases {
		got := behaviourOf(&corev1.Container{Image: c.image, Command: c.command, Args: c.args})
		if got != c.want {
			t.Errorf("%s %q %q: got %+v, want %+v", c.image, c.command, c.args, got, c.want)
		}
	}
}

func TestImages(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                      "docker.io/library/nginx:latest",
		"nginx:1.27":                 "docker.io/library/nginx:1.27",
		"bitnami/redis:7":            "docker.io/bitnami/redis:7",
		"registry.k8s.io/pause:3.10": "registry.k8s.io/pause:3.10",
		"localhost:5000/app":         "localhost:5000/app:latest",
	} {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
	for image, valid := range map[string]bool{"nginx:1.27": true, "Nginx": false, "nginx::1": false, "a/b/c:d": true} {
		if validReference(image) != valid {
			t.Errorf("validReference(%q) != %v", image, valid)
		}
	}
	cat := &catalogue{images: map[string]bool{normalise("nginx:1.27"): true}}
	if !cat.has("docker.io/library/nginx:1.27") || cat.has("nginx") {
		t.Errorf("catalogue lookups are by normalised name")
	}
}

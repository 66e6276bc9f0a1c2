package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// catalogue is the set of images the simulated registry has. Everything else
// fails to pull the way containerd fails for a tag the registry lacks.
type catalogue struct {
	images map[string]bool // normalised references
}

func loadCatalogue(paths []string) (*catalogue, error) {
	c := &catalogue{images: map[string]bool{}}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			line := strings.TrimSpace(strings.SplitN(scanner.Text(), "#", 2)[0])
			if line != "" {
				c.images[normalise(line)] = true
			}
		}
		f.Close()
		if err := scanner.Err(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *catalogue) has(image string) bool { return c.images[normalise(image)] }

// The reference grammar of github.com/distribution/reference, reduced to
// what decides "can this be parsed at all" (InvalidImageName on a real node).
var referencePattern = regexp.MustCompile(`^` +
	`(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?` +
	`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

func validReference(image string) bool { return referencePattern.MatchString(image) }

// normalise turns a spec image into the runtime's full name, as containerd
// reports it in containerStatuses[].image: nginx -> docker.io/library/nginx:latest.
func normalise(image string) string {
	name, digest, _ := strings.Cut(image, "@")
	domain, rest := "docker.io", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			domain, rest = first, name[i+1:]
		}
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	full := domain + "/" + rest
	if digest != "" {
		return full + "@" + digest
	}
	if lastColon := strings.LastIndexByte(rest, ':'); lastColon < 0 {
		full += ":latest"
	}
	return full
}

// repository is the name without tag or digest: docker.io/library/nginx.
func repository(normalised string) string {
	name, _, _ := strings.Cut(normalised, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return name
}

// imageID is the repo digest containerd reports (imageID in the status):
// stable per image, so the same tag always resolves to the same digest.
func imageID(image string) string {
	n := normalise(image)
	if _, digest, ok := strings.Cut(n, "@"); ok {
		return repository(n) + "@" + digest
	}
	sum := sha256.Sum256([]byte("kspy-image:" + n))
	return repository(n) + "@sha256:" + hex.EncodeToString(sum[:])
}

// imageSize is a plausible, stable compressed size for the Pulled event.
func imageSize(image string) uint64 {
	sum := sha256.Sum256([]byte("kspy-size:" + normalise(image)))
	return 2_000_000 + binary.BigEndian.Uint64(sum[:8])%70_000_000
}

// pullNotFound is containerd's error for a tag the registry does not have
// (containerd 1.7/2.0, and 2.1+ in local-pull mode as kind configures it).
func pullNotFound(image string) string {
	n := normalise(image)
	return fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", n, n, n)
}

// shellDefault reports whether the image's default command is a shell, which
// exits at once without a terminal (busybox, alpine: `kubectl run --image=busybox`
// crash-loops on a real node).
func shellDefault(image string) bool {
	switch repository(normalise(image)) {
	case "docker.io/library/busybox", "docker.io/library/alpine", "docker.io/library/ubuntu", "docker.io/library/debian":
		return true
	}
	return false
}

// nodeagent plays the part of the kubelet for Pods on kspy's simulated
// (kwok-managed) nodes: it writes the Pod statuses and Events a real kubelet
// with containerd would, as seen through the watch API.
//
// kwok keeps the Nodes Ready and their Leases fresh. The Pod lifecycle lives
// here rather than in kwok Stages because a real node's behaviour depends on
// other objects and on per-Pod text that Stages cannot produce: kwok Stage
// events carry a fixed message (no `Pulling image "nginx:1.27"`), selectors
// cannot see whether a ConfigMap exists, and per-container exit times and
// growing back-offs would need one Stage per case. Doing it in one place also
// means no helper annotations, so the watch shows only what a kubelet writes.
//
// See docs/simulated-kubelet.md for each behaviour and its known differences.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the identity to act as")
	images := flag.String("images", "", "comma-separated image catalogue files (one reference a line)")
	creatingDelay := flag.Duration("creating-delay", time.Second, "how long a new Pod stays in ContainerCreating (sandbox and pull)")
	nodeSelector := flag.String("node-annotation", "kwok.x-k8s.io/node=fake", "annotation key=value of the nodes to act for")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	// Many Pods change at once in a test run; the default 5 qps would queue
	// status writes and stretch every state.
	config.QPS, config.Burst = 200, 400
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	var files []string
	for _, f := range strings.Split(*images, ",") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	cat, err := loadCatalogue(files)
	if err != nil {
		log.Fatalf("image catalogue: %v", err)
	}
	key, value, _ := strings.Cut(*nodeSelector, "=")

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	a := newAgent(ctx, client, cat, *creatingDelay, key, value)
	log.Printf("nodeagent: %d images in the catalogue, creating delay %v", len(cat.images), *creatingDelay)
	if err := a.run(ctx); err != nil {
		log.Printf("nodeagent: %v", err)
		os.Exit(1)
	}
}

package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// agent dispatches the Pods bound to simulated nodes to one worker each.
type agent struct {
	client        kubernetes.Interface
	cat           *catalogue
	creatingDelay time.Duration
	nodeKey       string
	nodeValue     string

	nodes       corelisters.NodeLister
	broadcaster record.EventBroadcaster
	ips         *ipam

	mu        sync.Mutex
	workers   map[types.UID]*worker
	recorders map[string]record.EventRecorder
	present   map[string]map[string]bool // node -> normalised images pulled there
}

func newAgent(ctx context.Context, client kubernetes.Interface, cat *catalogue, creatingDelay time.Duration, key, value string) *agent {
	return &agent{
		client: client, cat: cat, creatingDelay: creatingDelay, nodeKey: key, nodeValue: value,
		broadcaster: record.NewBroadcaster(record.WithContext(ctx)),
		ips:         newIPAM(),
		workers:     map[types.UID]*worker{},
		recorders:   map[string]record.EventRecorder{},
		present:     map[string]map[string]bool{},
	}
}

func (a *agent) run(ctx context.Context) error {
	// Events go through client-go's recorder, as the kubelet's do, so repeats
	// are counted and spam-filtered the same way.
	a.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer a.broadcaster.Shutdown()

	nodeFactory := informers.NewSharedInformerFactory(a.client, 0)
	a.nodes = nodeFactory.Core().V1().Nodes().Lister()
	podFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	pods := podFactory.Core().V1().Pods().Informer()
	nodeFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodeFactory.Core().V1().Nodes().Informer().HasSynced) {
		return fmt.Errorf("node cache did not sync")
	}
	_, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.observe(ctx, obj) },
		UpdateFunc: func(_, obj any) { a.observe(ctx, obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				a.forget(pod)
			}
		},
	})
	if err != nil {
		return err
	}
	podFactory.Start(ctx.Done())
	<-ctx.Done()
	return nil
}

// managedNode returns the node if the agent acts for it.
func (a *agent) managedNode(name string) (*corev1.Node, bool) {
	node, err := a.nodes.Get(name)
	if err != nil || node.Annotations[a.nodeKey] != a.nodeValue {
		return nil, false
	}
	return node, true
}

func (a *agent) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if _, ok := a.managedNode(pod.Spec.NodeName); !ok {
		return
	}
	a.mu.Lock()
	w, ok := a.workers[pod.UID]
	if !ok {
		w = newWorker(a, pod)
		a.workers[pod.UID] = w
	}
	a.mu.Unlock()
	if ok {
		w.notify(pod)
		return
	}
	go func() {
		w.run(ctx)
		log.Printf("pod %s/%s: worker done", pod.Namespace, pod.Name)
	}()
}

func (a *agent) forget(pod *corev1.Pod) {
	a.mu.Lock()
	w, ok := a.workers[pod.UID]
	delete(a.workers, pod.UID)
	a.mu.Unlock()
	if ok {
		w.cancel()
	}
	a.ips.release(pod.Spec.NodeName, string(pod.UID))
}

func (a *agent) recorder(node string) record.EventRecorder {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.recorders[node]
	if !ok {
		r = a.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: node})
		a.recorders[node] = r
	}
	return r
}

func (a *agent) imagePresent(node, image string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.present[node][normalise(image)]
}

func (a *agent) markPresent(node, image string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.present[node] == nil {
		a.present[node] = map[string]bool{}
	}
	a.present[node][normalise(image)] = true
}

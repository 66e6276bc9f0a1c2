// Command etcd is etcd's own server entry point (etcdmain), built from the
// go.etcd.io/etcd/server/v3 module so the local control plane needs no
// downloads outside the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

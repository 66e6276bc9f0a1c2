// Command kube is a multicall binary holding the three control-plane
// components kspy runs locally: kube-apiserver, kube-controller-manager and
// kube-scheduler. They share most of their packages, so linking them once
// (the old hyperkube idea) halves the cold build on a small machine.
//
// Usage: kube <apiserver|controller-manager|scheduler> [flags...]
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube <apiserver|controller-manager|scheduler> [flags...]")
		os.Exit(2)
	}
	var command *cobra.Command
	switch os.Args[1] {
	case "apiserver", "kube-apiserver":
		command = apiserver.NewAPIServerCommand()
	case "controller-manager", "kube-controller-manager":
		command = controllermanager.NewControllerManagerCommand()
	case "scheduler", "kube-scheduler":
		command = scheduler.NewSchedulerCommand()
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n", os.Args[1])
		os.Exit(2)
	}
	// cobra reads os.Args[1:]; drop the component name so the component
	// parses only its own flags.
	command.SetArgs(os.Args[2:])
	os.Exit(cli.Run(command))
}

// Command controlplane is a busybox-style build of the Kubernetes control
// plane used by sparkfleet's tests, demo and benchmarks: one binary that runs
// etcd, kube-apiserver or kube-controller-manager, chosen by the name it is
// invoked as (bin/etcd -> controlplane) or by its first argument.
//
// The Python launcher (sparkfleet.testing) treats the bin/ folder holding
// these links exactly like an envtest KUBEBUILDER_ASSETS folder, so the same
// flags drive our build and upstream binaries alike.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // CronJob time zones in kube-controller-manager

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

const usage = `usage: controlplane COMPONENT [flags...]

components:
  etcd                      embedded etcd server (etcd's own flags)
  kube-apiserver            Kubernetes API server
  kube-controller-manager   Kubernetes controller manager
`

func main() {
	component := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if component != "etcd" && component != "kube-apiserver" && component != "kube-controller-manager" {
		if len(args) == 0 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		component, args = args[0], args[1:]
	}
	switch component {
	case "etcd":
		etcdmain.Main(append([]string{"etcd"}, args...))
	case "kube-apiserver":
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "kube-controller-manager":
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	default:
		fmt.Fprintf(os.Stderr, "controlplane: unknown component %q\n\n%s", component, usage)
		os.Exit(2)
	}
}

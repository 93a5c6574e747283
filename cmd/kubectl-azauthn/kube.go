/*
Copyright 2026 The azure-authenticator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

// kubeFlags are kubectl's conventional connection flags. A plugin gets
// them from the command line only: kubectl passes its own flags through
// untouched.
type kubeFlags struct {
	kubeconfig, context, namespace string
}

func addKubeFlags(fs *pflag.FlagSet) *kubeFlags {
	k := &kubeFlags{}
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
	fs.StringVar(&k.context, "context", "", "The kubeconfig context to use.")
	fs.StringVarP(&k.namespace, "namespace", "n", "", "The namespace (default: the context's namespace, then \"default\").")
	return k
}

func (k *kubeFlags) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context})
}

// Namespace is -n, else the context's namespace, else "default".
func (k *kubeFlags) Namespace() (string, error) {
	if k.namespace != "" {
		return k.namespace, nil
	}
	ns, _, err := k.loader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	return ns, nil
}

// RESTConfig is the connection the kubeconfig describes.
func (k *kubeFlags) RESTConfig() (*rest.Config, error) {
	cfg, err := k.loader().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-azauthn"
	return cfg, nil
}

// Client is a client for the built-in types and ours.
func (k *kubeFlags) Client() (client.Client, error) {
	cfg, err := k.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}

func scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authnv1alpha1.AddToScheme(s))
	return s
}

// outputFlag is -o yaml|json.
type outputFlag struct{ format string }

func addOutputFlag(fs *pflag.FlagSet, def string) *outputFlag {
	o := &outputFlag{}
	fs.StringVarP(&o.format, "output", "o", def, "Output format: yaml or json.")
	return o
}

func (o *outputFlag) validate() error {
	if o.format != "yaml" && o.format != "json" {
		return usageErrorf("--output must be yaml or json, not %q", o.format)
	}
	return nil
}

// print writes objs as one YAML stream (documents separated by ---) or,
// for json, one object or a v1 List.
func (o *outputFlag) print(w io.Writer, objs ...any) error {
	if len(objs) == 0 {
		return errors.New("nothing to print")
	}
	if o.format == "json" {
		v := objs[0]
		if len(objs) > 1 {
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": objs}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for i, obj := range objs {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// parseFlags parses args into fs; --help prints the flags and ends the
// command with exit 0, a bad flag is a usage error.
func parseFlags(fs *pflag.FlagSet, args []string, s streams, synopsis string) error {
	fs.SetOutput(io.Discard)
	help := fs.BoolP("help", "h", false, "Show this help.")
	if err := fs.Parse(args); err != nil {
		return usageErrorf("%v (see --help)", err)
	}
	if *help {
		_, _ = fmt.Fprintf(s.Out, "Usage: kubectl azauthn %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
		return errHelpShown
	}
	return nil
}

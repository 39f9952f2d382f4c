// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package kubernetes holds the tests of prodscope's Kubernetes deployment: the
// kustomize base in base/ (strict decoding of every manifest into its
// Kubernetes API type, the kustomize build rendered in Go, the generated
// ConfigMaps against config/agent.yaml and config/gateway.yaml) and the
// repository's Dockerfile. It has no non-test code.
package kubernetes

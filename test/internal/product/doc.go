// Package product names the product as dist/install.yaml installs it (its
// namespace, the manager's Deployment, its Services) and reads that
// manifest, for the programs that install it on the local cluster as a
// user does: the demo and the end-to-end suite.
package product

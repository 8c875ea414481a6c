// Package controllers holds the purge-operator's reconcilers: the CacheProxy
// controller, which keeps each fleet's Deployment, Service and admin-token
// Secret in shape, and the Purge controller, which fans an invalidation out
// to every pod of a fleet and records each pod's result.
//
// The controllers reach the cacheproxy pods only through the admin client in
// cacheproxy/admin, never the cache's internals.
package controllers

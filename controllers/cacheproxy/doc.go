// Package cacheproxy holds the CacheProxy controller: it keeps each
// CacheProxy's Deployment, Service and admin-token Secret in shape and
// reports the fleet's state in the CacheProxy's status.
//
// The desired children come from pure builders (resources.go), applied
// with server-side apply (apply.go); the status is computed from the live
// Deployment (status.go). The names the Purge controller relies on (the
// pods' labels, the token Secret, the admin port) come from
// controllers/fleet.
package cacheproxy

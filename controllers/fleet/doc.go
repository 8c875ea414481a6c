// Package fleet holds the names of a CacheProxy's fleet that both
// controllers rely on: the CacheProxy controller creates the pods' labels,
// the admin-token Secret and the admin port under these names, and the
// Purge controller finds the target pods, their admin port and the token by
// them. Keeping them here, not in either controller, is what lets the two
// agree.
//
// The labels users select with are API and live in api/v1alpha1
// (LabelCacheProxy, LabelManagedBy).
package fleet

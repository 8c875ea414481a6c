package v1alpha1

// Read-only helpers on PurgeStatus, for every reader of a Purge (the
// controller, the kubectl plugin): they say what the status means and
// change nothing.

// Started reports whether the target pods were chosen.
func (s *PurgeStatus) Started() bool {
	return s.StartTime != nil
}

// Finished reports whether the Purge reached Complete or Failed: its
// status no longer changes.
func (s *PurgeStatus) Finished() bool {
	return s.Phase == PurgeComplete || s.Phase == PurgeFailed
}

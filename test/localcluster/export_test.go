package localcluster

// NSPID exposes nsPID to the external tests.
var NSPID = nsPID

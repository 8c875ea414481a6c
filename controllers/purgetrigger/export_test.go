package purgetrigger

// PurgeFor lets the specs build the Purge a pass would create, to stand
// for a pass that created it and died before recording it.
var PurgeFor = purgeFor

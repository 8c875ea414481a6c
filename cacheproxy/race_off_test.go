//go:build !race

package cacheproxy

// raceEnabled: the race detector is on (it slows the tests down).
const raceEnabled = false

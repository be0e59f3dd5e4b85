//go:build race

package events

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// a test counting the allocations a pool saves cannot hold.
const raceEnabled = true

//go:build race

package manifest

// raceEnabled lets slow, single-goroutine tests skip under -race.
const raceEnabled = true

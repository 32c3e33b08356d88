package txsign

import "github.com/nonrep/nonrep/problem"

// init registers this package's codes with package problem, so that any
// problem+json writer answers them with the statuses of Status.
func init() {
	for _, c := range Codes() {
		problem.Register(statuses[c], c)
	}
}

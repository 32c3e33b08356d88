package server

import (
	"context"
	"errors"
	"time"

	"github.com/nonrep/nonrep/evidence"
	"github.com/nonrep/nonrep/replay"
)

// replayHorizon bounds how long any profile keeps a replay id: the longest
// default window (EBANX, 24 h); time-bound schemes keep theirs for minutes.
const replayHorizon = 24 * time.Hour

// warmReplay re-claims, in a fresh in-memory replay store, the replay ids
// of the requests accepted within the horizon, read back from the evidence
// log. Without it a restart (or a crash) of a single instance on the
// embedded default would forget which requests it already executed. The
// TTLs are the horizon measured from each record's receipt: never shorter
// than the profile's own window, so no replay is reopened; longer only
// costs memory.
func (s *Server) warmReplay(ctx context.Context, now time.Time) (int, error) {
	q := evidence.Query{Verdict: evidence.Accepted, From: now.Add(-replayHorizon), To: now.Add(time.Minute), After: -1, Limit: 10000}
	n := 0
	for {
		sums, err := s.log_.Search(ctx, q)
		if err != nil {
			return n, err
		}
		for _, sm := range sums {
			if sm.Direction != evidence.Inbound || sm.Kind == evidence.KindResponse || sm.ReplayID == "" {
				continue
			}
			ttl := sm.Received.Add(replayHorizon).Sub(now)
			if ttl <= 0 {
				continue
			}
			err := s.replay.Claim(ctx, sm.Partner+"/"+sm.ReplayID, ttl)
			if err != nil && !errors.Is(err, replay.Detected) {
				return n, err
			}
			n++
		}
		if len(sums) < q.Limit {
			return n, nil
		}
		q.After = sums[len(sums)-1].Index
	}
}

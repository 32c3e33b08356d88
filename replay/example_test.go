package replay_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nonrep/nonrep/replay"
)

func Example() {
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// The verifier accepted a token expiring at exp; skew is its allowed
	// clock skew. The id must stay claimed for the rest of that window.
	now := time.Now()
	exp, skew := now.Add(2*time.Minute), 30*time.Second
	ttl := exp.Add(skew).Sub(now)

	for range 2 {
		err := store.Claim(context.Background(), "partner-1:jti-42", ttl)
		switch {
		case err == nil:
			fmt.Println("execute")
		case errors.Is(err, replay.Detected):
			fmt.Println("reject: replay")
		default: // replay.Unavailable, replay.Invalid: fail closed
			fmt.Println("reject: 503")
		}
	}
	// Output:
	// execute
	// reject: replay
}

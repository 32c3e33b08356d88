package keys_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nonrep/nonrep/internal/testkeys"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/keystest"
	"github.com/nonrep/nonrep/keys/sqlitestore"
)

// A key is published (pending) before it may sign; promoting it early is
// refused with TooEarly.
func Example() {
	ctx := context.Background()
	clock := keystest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: ":memory:"})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	// The private key lives in an HSM here; FileSigners is the default.
	hsm := keystest.Signers{"hsm:gw-1": testkeys.Key("p256")}
	reg, err := keys.New(keys.Config{Store: store, MaxAge: 10 * time.Minute, Margin: time.Minute, Signers: hsm, Clock: clock.Now})
	if err != nil {
		panic(err)
	}
	pub, _ := jose.NewJWK(testkeys.Key("p256").Public(), "gw-1", jose.ES256)
	k, err := reg.Add(ctx, keys.NewKey{Key: pub, SignerRef: "hsm:gw-1", Actor: "alice"})
	fmt.Println(k.Kid, k.State, err)

	_, err = reg.Promote(ctx, "gw-1", "alice", "")
	fmt.Println(string(jose.CodeOf(err)))

	clock.Advance(reg.PendingFor())
	k, err = reg.Promote(ctx, "gw-1", "alice", "go live")
	fmt.Println(k.Kid, k.State, err)

	sk, _ := reg.Signer(ctx, keys.DefaultPurpose)
	fmt.Println(sk.Kid, sk.Alg)
	// Output:
	// gw-1 pending <nil>
	// too_early
	// gw-1 active <nil>
	// gw-1 ES256
}

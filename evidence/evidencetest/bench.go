package evidencetest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
)

// BenchBody is the body of the benchmark's records: 1 KiB, a typical
// payment instruction with room to spare.
var BenchBody = []byte(`{"amount":"50000.00","currency":"EUR","creditor":{"iban":"DE89370400440532013000","name":"` +
	strings.Repeat("x", 1024-110) + `"}}`)

// BenchAppend measures Log.Append with durability on: b.N appends spread
// over writers goroutines, each waiting for its append to be committed
// before the next. It reports appends/s and the p50 and p99 latency of one
// Append. open returns a fresh, empty store.
func BenchAppend(b *testing.B, open func(b *testing.B) evidence.Store, writers int) {
	s := open(b)
	l, err := evidence.Open(context.Background(), evidence.Config{Store: s, Key: LogKey, Origin: Origin, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := make([]*evidence.Record, 64)
	for i := range recs {
		recs[i] = PlainRecord(i)
		recs[i].Body = BenchBody
	}
	ctx := context.Background()
	// Warm up (schema, connections, page cache).
	for i := 0; i < 10; i++ {
		if _, err := l.Append(ctx, recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, writers)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := l.Append(ctx, recs[i%64]); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
	// CPU time of this process (user + system) per append: on a shared,
	// loaded machine the wall-clock rate understates what the code does.
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/append")
	b.ReportMetric(0, "ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Fill appends n records to l in transactions of batch records (bulk
// import; for building large logs in benchmarks).
func Fill(ctx context.Context, l *evidence.Log, n, batch int) error {
	rs := make([]*evidence.Record, 0, batch)
	for i := 0; i < n; i++ {
		r := PlainRecord(i)
		rs = append(rs, r)
		if len(rs) == batch || i == n-1 {
			if _, err := l.AppendBatch(ctx, rs); err != nil {
				return fmt.Errorf("records up to %d: %w", i, err)
			}
			rs = rs[:0]
		}
	}
	return nil
}

// BenchInclusionProof measures proving one record's inclusion in a log of
// n records (build it with Fill): the proof's hashes read from the store.
func BenchInclusionProof(b *testing.B, l *evidence.Log, n int64) {
	ctx := context.Background()
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if cp.Size != n {
		b.Fatalf("the log has %d records, want %d", cp.Size, n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := int64(i*7919) % n
		p, err := l.InclusionProof(ctx, idx, n)
		if err != nil {
			b.Fatal(err)
		}
		if len(p) < 19 {
			b.Fatalf("a proof of %d hashes in a tree of %d", len(p), n)
		}
	}
}

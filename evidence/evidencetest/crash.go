package evidencetest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonrep/nonrep/evidence"
)

// crashEnv carries the store location to the child process.
const crashEnv = "NONREP_EVIDENCETEST_CRASH_CHILD"

func crashChild() bool { return os.Getenv(crashEnv) != "" }

// runCrashChild appends from 16 goroutines until it is killed, printing
// "ACK <index> <sha256 of the entry>" after each Append returns.
func runCrashChild(t *testing.T, b Backend) {
	ctx := context.Background()
	s, err := b.Open(ctx, os.Getenv(crashEnv))
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(3)
	}
	l, err := evidence.Open(ctx, evidence.Config{Store: s, Key: LogKey, Origin: Origin, MaxBatch: 64})
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(3)
	}
	// Never outlive a parent that died.
	time.AfterFunc(60*time.Second, func() { os.Exit(4) })
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(n.Add(1))
				r := PlainRecord(i)
				r.Body = append(r.Body, strings.Repeat("x", i%3000)...)
				e, err := r.Entry()
				if err != nil {
					panic(err)
				}
				idx, err := l.Append(ctx, r)
				if err != nil {
					continue
				}
				sum := sha256.Sum256(e)
				mu.Lock()
				fmt.Fprintf(out, "ACK %d %x\n", idx, sum)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// testCrash starts a child process (this test binary, running only this
// subtest) that appends under concurrent load, kills it with SIGKILL once
// it has acknowledged enough appends, and then checks that every
// acknowledged append is present and intact, that the tree and every
// checkpoint verify (no partial record is visible), and that the log
// accepts appends again.
func testCrash(h *harness) {
	exe, err := os.Executable()
	if err != nil {
		h.t.Skipf("cannot find the test binary: %v", err)
	}
	var pattern []string
	for _, part := range strings.Split(h.t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(exe, "-test.run="+strings.Join(pattern, "/"), "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashEnv+"="+h.loc)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	acks := map[int64]string{}
	sc := bufio.NewScanner(stdout)
	killed := false
	kill := func() {
		if !killed {
			killed = true
			cmd.Process.Kill() // SIGKILL: no defers, no flush, no commit
		}
	}
	timer := time.AfterFunc(30*time.Second, kill)
	defer timer.Stop()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "OPEN-FAILED" {
			h.t.Fatalf("child: %s", sc.Text())
		}
		if len(f) != 3 || f[0] != "ACK" {
			continue
		}
		idx, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			h.t.Fatalf("child printed %q", sc.Text())
		}
		if _, dup := acks[idx]; dup {
			h.t.Fatalf("index %d acknowledged twice", idx)
		}
		acks[idx] = f[2]
		if len(acks) == 600 {
			kill()
		}
	}
	kill()
	err = cmd.Wait()
	if len(acks) < 50 {
		h.t.Fatalf("the child acknowledged only %d appends before it was killed (%v): %s", len(acks), err, stderr.String())
	}
	h.t.Logf("killed the child after %d acknowledged appends", len(acks))

	s := h.open()
	for idx, sum := range acks {
		lf, err := s.Leaf(h.ctx, idx)
		if err != nil {
			h.t.Fatalf("acknowledged record %d: %v", idx, err)
		}
		got := sha256.Sum256(lf.Entry)
		if hex.EncodeToString(got[:]) != sum {
			h.t.Fatalf("acknowledged record %d changed", idx)
		}
	}
	rep := mustCheck(h, s, evidence.CheckOptions{LogKeys: []string{h.vkey()}})
	if rep.Head.Size < int64(len(acks)) {
		h.t.Fatalf("the log holds %d records, fewer than the %d acknowledged", rep.Head.Size, len(acks))
	}
	l := h.log(evidence.Config{Store: s})
	if got := mustAppend(h.t, h.ctx, l, PlainRecord(-1)); got != rep.Head.Size {
		h.t.Fatalf("after the crash the next append got index %d, want %d", got, rep.Head.Size)
	}
	mustCheck(h, s, evidence.CheckOptions{LogKeys: []string{h.vkey()}})
}

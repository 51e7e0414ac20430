package redis

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldops/herald/bot/ratelimit"
)

const sec = int64(time.Second / time.Microsecond)

// op is one step of a rate-limit scenario, at time `at` (µs).
type op struct {
	at       int64
	pause    int64 // >0: Pause for this long instead of Reserve
	wantWait int64 // for Reserve
}

var gcraScenarios = []struct {
	name     string
	interval int64 // µs per token
	burst    int64
	ops      []op
}{
	{
		name: "a full bucket gives burst tokens at once, then one per interval",
		// 10/s, burst 3
		interval: sec / 10, burst: 3,
		ops: []op{
			{at: 0, wantWait: 0},
			{at: 0, wantWait: 0},
			{at: 0, wantWait: 0},
			{at: 0, wantWait: sec / 10},
			{at: 0, wantWait: 2 * sec / 10},
		},
	},
	{
		name:     "tokens refill with time, up to burst and no further",
		interval: sec / 10, burst: 2,
		ops: []op{
			{at: 0, wantWait: 0},
			{at: 0, wantWait: 0},
			{at: 0, wantWait: sec / 10},                   // TAT now 0.3 s
			{at: sec / 2, wantWait: 0},                    // idle long enough: refilled
			{at: sec / 2, wantWait: 0},                    // the burst again
			{at: sec / 2, wantWait: sec / 10},             // and no more
			{at: 10 * sec, wantWait: 0},                   // a long idle does not bank more than burst
			{at: 10 * sec, wantWait: 0},                   //
			{at: 10 * sec, wantWait: sec / 10},            //
			{at: 10*sec + sec/20, wantWait: 3 * sec / 20}, // the 4th token since 10 s is due at 10.2 s
		},
	},
	{
		name:     "a pause holds every token until it ends, then the steady rate resumes without a burst",
		interval: sec / 10, burst: 5,
		ops: []op{
			{at: 0, wantWait: 0},
			{at: 0, pause: 2 * sec},
			{at: 0, wantWait: 2 * sec},
			{at: 0, wantWait: 2*sec + sec/10},
			{at: sec, pause: sec / 2}, // a shorter pause does not cut the longer one short
			{at: sec, wantWait: 2*sec + 2*sec/10 - sec},
			{at: 5 * sec, wantWait: 0}, // long after: full bucket again
		},
	},
	{
		name:     "burst 1 is a plain rate",
		interval: sec, burst: 1,
		ops: []op{
			{at: 0, wantWait: 0},
			{at: 0, wantWait: sec},
			{at: sec / 2, wantWait: 2*sec - sec/2},
		},
	},
}

func TestGCRA(t *testing.T) {
	for _, sc := range gcraScenarios {
		t.Run(sc.name, func(t *testing.T) {
			var b bucket
			for i, o := range sc.ops {
				if o.pause > 0 {
					b = ratelimit.PauseFor(b, o.at, o.pause)
					continue
				}
				var wait int64
				b, wait = ratelimit.Take(b, o.at, sc.interval, sc.burst, 1)
				if wait != o.wantWait {
					t.Fatalf("step %d at %dµs: wait %dµs, want %dµs", i, o.at, wait, o.wantWait)
				}
			}
		})
	}
}

// bot.LocalLimiter (one replica, tests) must behave as this shared limiter
// does: run every scenario through it on a clock that follows the steps.
func TestLocalLimiterMatchesGCRA(t *testing.T) {
	ctx := context.Background()
	for _, sc := range gcraScenarios {
		t.Run(sc.name, func(t *testing.T) {
			clock := newClock()
			start := clock.Now()
			l := ratelimit.NewLocalLimiter(clock)
			for i, o := range sc.ops {
				clock.Add(start.Add(time.Duration(o.at) * time.Microsecond).Sub(clock.Now()))
				if o.pause > 0 {
					must(t, l.Pause(ctx, "k", time.Duration(o.pause)*time.Microsecond))
					continue
				}
				wait, err := l.Reserve(ctx, "k", float64(sec)/float64(sc.interval), int(sc.burst))
				must(t, err)
				if want := time.Duration(o.wantWait) * time.Microsecond; wait != want {
					t.Fatalf("step %d: LocalLimiter wait %v, GCRA %v", i, wait, want)
				}
			}
		})
	}
}

// The Lua scripts must do exactly what ratelimit.Take and PauseFor do: run
// every scenario through Redis with the same clock readings and compare.
func TestLuaMirrorsGCRA(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	base := time.Now().UnixMicro()
	var now atomic.Int64
	f.store.rateNow = now.Load
	for _, sc := range gcraScenarios {
		t.Run(sc.name, func(t *testing.T) {
			key := t.Name()
			var want bucket
			for i, o := range sc.ops {
				now.Store(base + o.at)
				if o.pause > 0 {
					want = ratelimit.PauseFor(want, base+o.at, o.pause)
					must(t, f.store.Pause(ctx, key, time.Duration(o.pause)*time.Microsecond))
				} else {
					var wantWait int64
					want, wantWait = ratelimit.Take(want, base+o.at, sc.interval, sc.burst, 1)
					rate := float64(sec) / float64(sc.interval)
					wait, err := f.store.Reserve(ctx, key, rate, int(sc.burst))
					must(t, err)
					if wait != time.Duration(wantWait)*time.Microsecond {
						t.Fatalf("step %d: Lua wait %v, Go %v", i, wait, time.Duration(wantWait)*time.Microsecond)
					}
				}
				got, err := f.store.readBucket(ctx, key)
				must(t, err)
				if got != want {
					t.Fatalf("step %d: Lua state %+v, Go %+v", i, got, want)
				}
				// Reserve always refreshes the TTL: the bucket lives until it would be full again.
				if ttl := f.client.PTTL(ctx, f.store.rateKey(key)).Val(); o.pause == 0 && (ttl <= 0 || ttl.Milliseconds() > bucketTTL(want, base+o.at)) {
					t.Fatalf("step %d: bucket TTL %v, want about %dms", i, ttl, bucketTTL(want, base+o.at))
				}
			}
		})
	}
}

// Several replicas (two stores, each with its own connections) and many
// goroutines share one bucket: together they get what one would, rate·t +
// burst tokens, not more. The script reads the time it is handed (frozen
// here), so the check is exact and no busy machine can blur it: every slot
// of the GCRA sequence is handed out exactly once, whichever replica asked.
func TestRateLimitIsSharedAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	replicas := []*Store{f.store, New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)}
	var now atomic.Int64
	now.Store(time.Now().UnixMicro())
	for _, s := range replicas {
		s.rateNow = now.Load
	}
	const (
		rate    = 200.0
		burst   = 20
		window  = 1500 * time.Millisecond
		workers = 6
	)
	interval := time.Duration(float64(time.Second) / rate)
	var (
		mu    sync.Mutex
		waits []time.Duration
		wg    sync.WaitGroup
	)
	for w := range workers {
		s := replicas[w%2]
		wg.Go(func() {
			for {
				wait, err := s.Reserve(ctx, "sms:MG123", rate, burst)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				waits = append(waits, wait)
				mu.Unlock()
				if wait > window {
					return // this token is for after the window
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(waits)
	used := 0
	for i, w := range waits {
		want := time.Duration(max(0, i-burst+1)) * interval
		if w != want {
			t.Fatalf("token %d of %d: wait %v, want %v (one bucket for every replica: each slot once)", i, len(waits), w, want)
		}
		if w <= window {
			used++
		}
	}
	if want := int(rate*window.Seconds()) + burst; used != want {
		t.Fatalf("%d tokens within %v, want %d", used, window, want)
	}
}

func TestPauseDelaysTokens(t *testing.T) {
	ctx := ctxT(t)
	s := newFixture(t).store
	var now atomic.Int64 // the scripts' clock, still between the two calls
	now.Store(time.Now().UnixMicro())
	s.rateNow = now.Load
	must(t, s.Pause(ctx, "wa:sender", 300*time.Millisecond))
	wait, err := s.Reserve(ctx, "wa:sender", 100, 10)
	must(t, err)
	if wait != 300*time.Millisecond {
		t.Fatalf("wait after a 300ms pause = %v, want 300ms", wait)
	}
	now.Add(100 * 1000) // 100 ms later
	if wait, _ := s.Reserve(ctx, "wa:sender", 100, 10); wait != 210*time.Millisecond {
		t.Fatalf("wait 100ms into a 300ms pause, after one token = %v, want 210ms (the pause's rest, then one interval)", wait)
	}
	if other, _ := s.Reserve(ctx, "sms:sender", 100, 10); other != 0 {
		t.Fatalf("pausing one bucket delayed another by %v", other)
	}
}

func TestReserveRejectsNonsense(t *testing.T) {
	ctx := ctxT(t)
	s := newFixture(t).store
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {math.NaN(), 1}, {math.Inf(1), 1}, {1, 0}} {
		if _, err := s.Reserve(ctx, "k", c.rate, c.burst); err == nil {
			t.Errorf("Reserve(rate %v, burst %d) accepted", c.rate, c.burst)
		}
	}
}

// readBucket returns a bucket's stored state as the scripts left it.
func (s *Store) readBucket(ctx context.Context, key string) (bucket, error) {
	v, err := s.rdb.HMGet(ctx, s.rateKey(key), "tat", "pause").Result()
	if err != nil {
		return bucket{}, err
	}
	var b bucket
	for i, dst := range []*int64{&b.TAT, &b.Pause} {
		if str, ok := v[i].(string); ok {
			if *dst, err = strconv.ParseInt(str, 10, 64); err != nil {
				return bucket{}, errors.New("malformed bucket")
			}
		}
	}
	return b, nil
}

package ratelimit_test

import (
	"testing"

	"github.com/heraldops/herald/bot/ratelimit"
)

// One bucket of burst 2 refilled every 10 units, stepped through by hand:
// the clock is just the numbers.
func TestTakeGrantsBurstThenPacesAndResumesAfterAPauseWithoutBurst(t *testing.T) {
	steps := []struct {
		name     string
		now, n   int64
		pause    int64 // PauseFor before taking, 0: none
		wantWait int64
	}{
		{"first token of a full bucket", 0, 1, 0, 0},
		{"second token: the burst", 0, 1, 0, 0},
		{"third at once waits one interval", 0, 1, 0, 10},
		{"three at once later pay for all three", 50, 3, 0, 10},
		{"a pause holds tokens back, then no burst", 100, 1, 30, 30},
	}
	var b ratelimit.Bucket
	for _, s := range steps {
		if s.pause > 0 {
			b = ratelimit.PauseFor(b, s.now, s.pause)
		}
		var wait int64
		b, wait = ratelimit.Take(b, s.now, 10, 2, s.n)
		if wait != s.wantWait {
			t.Fatalf("%s: wait %d, want %d (bucket %+v)", s.name, wait, s.wantWait, b)
		}
	}
	if ratelimit.Full(b, 100) || !ratelimit.Full(b, 1000) {
		t.Errorf("bucket %+v: full at 100 = %v, at 1000 = %v; want false, true", b, ratelimit.Full(b, 100), ratelimit.Full(b, 1000))
	}
}

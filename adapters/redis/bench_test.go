package redis

import (
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/redistest"
)

// benchStore is a store on the shared server under a fresh prefix.
func benchStore(b *testing.B) *Store {
	srv := redistest.Shared(b)
	return New(srv.Client(b), redistest.Prefix(b), crypto.MustNewSealer(testKey), newClock())
}

// One broadcast to 50,000 people: the plan must be stored well within the
// few seconds a responder waits after approving.
func BenchmarkSaveDeliveries(b *testing.B) {
	const n = 50_000
	ctx := b.Context()
	s := benchStore(b)
	now := time.Now()
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		ds := make([]bot.Delivery, n)
		for i := range ds {
			ds[i] = newDelivery(fmt.Sprintf("B-%d-1", round), fmt.Sprintf("r%06d", i), fmt.Sprintf("+4915%09d", i), now)
		}
		b.StartTimer()
		if err := s.SaveDeliveries(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.StopTimer()
	c, err := s.Counts(ctx, "B-1-1")
	if err != nil || c[bot.DeliveryPending] != n {
		b.Fatalf("counts after saving %d: %v, %v", n, c, err)
	}
	dropPrefix(b, s) // free the shared server's memory
}

// And its 50,000 jobs.
func BenchmarkEnqueue(b *testing.B) {
	const n = 50_000
	ctx := b.Context()
	s := benchStore(b)
	jobs := make([][]byte, n)
	for i := range jobs {
		jobs[i] = []byte(fmt.Sprintf(`{"broadcast":"B-1-1","recipient":"r%06d"}`, i))
	}
	for b.Loop() {
		if err := s.Enqueue(ctx, "relay", jobs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "jobs/s")
	b.StopTimer()
	if depth, _ := s.QueueDepth(ctx, "relay"); depth != int64(n*b.N) {
		b.Fatalf("depth %d after enqueuing %d", depth, n*b.N)
	}
	dropPrefix(b, s)
}

func BenchmarkReserve(b *testing.B) {
	ctx := b.Context()
	s := benchStore(b)
	for b.Loop() {
		if _, err := s.Reserve(ctx, "sms", 1e6, 1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
}

// dropPrefix deletes every key of s, leaving other tests' keys alone.
func dropPrefix(b *testing.B, s *Store) {
	ctx := b.Context()
	err := s.scan(ctx, escapeGlob(s.Prefix())+"*", func(c goredis.Cmdable, keys []string) error {
		return c.Unlink(ctx, keys...).Err()
	})
	if err != nil {
		b.Fatal(err)
	}
}

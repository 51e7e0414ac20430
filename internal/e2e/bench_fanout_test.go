package e2e

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/relay"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
)

// BenchmarkFanout drives the relay through the real path: the broadcast
// planned into Redis, one job per recipient on a Redis Stream, workers
// claiming them, twilio-go posting each message over loopback HTTP to the
// fake Twilio API.
//
//	go test -run '^$' -bench Fanout -benchtime 1x ./internal/e2e/
func BenchmarkFanout(b *testing.B) {
	// send: one op is one message; the broadcast has b.N recipients, queued
	// before the clock starts (queue_50k measures queueing).
	b.Run("send", func(b *testing.B) {
		w := newWorld(b, smsRecipients(b.N))
		e := w.engine("bench", relay.Settings{SMSPerSecond: -1}, 160)
		bc := w.broadcast(e, "B-1-1", false)
		if err := e.relay.Start(w.ctx, bc); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		e.run(w.ctx, relay.WorkerConfig{Concurrency: 64, Block: 50 * time.Millisecond})
		defer e.shutdown()
		c := w.waitSettled(e, bc.ID, 5*time.Minute)
		elapsed := time.Since(start)
		b.StopTimer()
		if c[bot.DeliveryQueued] != b.N {
			b.Fatalf("counts = %v, want %d queued", c, b.N)
		}
		bytes, posts := w.counter.read()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "messages/s")
		b.ReportMetric(float64(bytes)/float64(posts), "bytes/message")
	})

	// vs_bare: the same 5,000 messages sent by herald (64 workers, one
	// replica, unthrottled) and by a bare loop of 64 workers posting
	// Messages.json, measured in one run so the machine's load is shared
	// alike. Metrics with the bare- prefix are the reference.
	b.Run("vs_bare", func(b *testing.B) {
		const n, workers = 5000, 64
		var herald, bare cost
		for range b.N {
			w := newWorld(b, smsRecipients(n))
			bare = w.bareLoop(b, workers, n)
			e := w.engine("bench", relay.Settings{SMSPerSecond: -1}, 160)
			rt := &roundTripCounter{}
			e.client.AddHook(rt)
			bc := w.broadcast(e, "B-1-1", false)
			if err := e.relay.Start(w.ctx, bc); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			before := w.sample(rt)
			e.run(w.ctx, relay.WorkerConfig{Concurrency: workers, Block: 50 * time.Millisecond})
			c := w.waitSettled(e, bc.ID, 5*time.Minute)
			after := w.sample(rt)
			_ = e.shutdown()
			if c[bot.DeliveryQueued] != n {
				b.Fatalf("counts = %v, want %d queued", c, n)
			}
			herald = since(before, after, n)
		}
		herald.report(b, "")
		bare.report(b, "bare-")
		b.ReportMetric(herald.perSecond()/bare.perSecond(), "x-bare-rate")
		b.ReportMetric(0, "ns/op")
	})

	// callbacks: 3,000 SMS with Twilio's status callbacks flowing (sent and
	// delivered for each, signed, through the webhook handler), from the
	// first worker starting until every delivery is recorded as delivered.
	b.Run("callbacks", func(b *testing.B) {
		n, workers := benchN(3000), 64
		var herald cost
		for range b.N {
			w := newWorld(b, smsRecipients(n))
			e := w.engine("bench", relay.Settings{SMSPerSecond: -1}, 160)
			w.statusRelay.Store(e.relay)
			w.fake.SetAutoStatus(&twilioapi.AutoStatus{})
			rt := &roundTripCounter{}
			e.client.AddHook(rt)
			bc := w.broadcast(e, "B-1-1", false)
			if err := e.relay.Start(w.ctx, bc); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			before := w.sample(rt)
			e.run(w.ctx, relay.WorkerConfig{Concurrency: workers, Block: 50 * time.Millisecond})
			deadline := time.Now().Add(time.Minute)
			for {
				c, err := e.store.Counts(w.ctx, bc.ID)
				if err != nil {
					b.Fatal(err)
				}
				if c[bot.DeliveryDelivered] == n {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("not all delivered: %v", c)
				}
				time.Sleep(5 * time.Millisecond)
			}
			after := w.sample(rt)
			_ = e.shutdown()
			herald = since(before, after, n)
		}
		herald.report(b, "")
		b.ReportMetric(0, "ns/op")
	})

	// inflight_16: a provider that answers 429 / 20429 (no Retry-After) to
	// any request beyond 16 in flight, as Twilio does per account, with 2 ms
	// per request. herald runs 64 workers; the reference is a bare loop of
	// 16 workers, which is never refused.
	b.Run("inflight_16", func(b *testing.B) {
		n := benchN(2000)
		var herald, bare cost
		var attempts float64
		for range b.N {
			w := newWorld(b, smsRecipients(n))
			w.fake.SetMaxInFlight(16)
			w.fake.SetLatency(2 * time.Millisecond)
			bare = w.bareLoop(b, 16, n)
			_, barePosts := w.counter.read()
			e := w.engine("bench", relay.Settings{SMSPerSecond: -1}, 160)
			bc := w.broadcast(e, "B-1-1", false)
			if err := e.relay.Start(w.ctx, bc); err != nil {
				b.Fatal(err)
			}
			before := w.sample(nil)
			e.run(w.ctx, relay.WorkerConfig{Concurrency: 64, Block: 50 * time.Millisecond})
			c := w.waitSettled(e, bc.ID, 5*time.Minute)
			after := w.sample(nil)
			_ = e.shutdown()
			if c[bot.DeliveryQueued] != n {
				b.Fatalf("counts = %v, want %d queued", c, n)
			}
			herald = since(before, after, n)
			_, posts := w.counter.read()
			attempts = float64(posts-barePosts) / float64(n)
		}
		b.ReportMetric(herald.perSecond(), "messages/s")
		b.ReportMetric(bare.perSecond(), "bare16-messages/s")
		b.ReportMetric(herald.perSecond()/bare.perSecond(), "x-bare16-rate")
		b.ReportMetric(attempts, "creates/message")
		b.ReportMetric(0, "ns/op")
	})

	// queue_50k: planning and queueing a 50,000-recipient broadcast.
	b.Run("queue_50k", func(b *testing.B) {
		const n = 50_000
		w := newWorld(b, smsRecipients(n))
		e := w.engine("bench", relay.Settings{SMSPerSecond: -1}, 16)
		var total time.Duration
		b.ResetTimer()
		for i := range b.N {
			bc := w.broadcast(e, fmt.Sprintf("B-1-%d", i+1), false)
			start := time.Now()
			if err := e.relay.Start(w.ctx, bc); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			b.StopTimer()
			depth, err := e.store.QueueDepth(w.ctx, e.relay.Topic())
			if err != nil || depth < int64(n*(i+1)) {
				b.Fatalf("queue depth %d (%v), want %d", depth, err, n*(i+1))
			}
			b.StartTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s-to-queue")
		b.ReportMetric(0, "ns/op")
	})

	// rate_200: with twilio.sms_mps = 200, how close the replicas together
	// come to that rate (1.00 = exactly R). Two replicas share the bucket.
	b.Run("rate_200", func(b *testing.B) {
		const rate, n = 200.0, 1000
		var ratio float64
		for range b.N {
			w := newWorld(b, smsRecipients(n))
			settings := relay.Settings{SMSPerSecond: rate}
			e1, e2 := w.engine("r1", settings, 40), w.engine("r2", settings, 40)
			bc := w.broadcast(e1, "B-1-1", false)
			if err := e1.relay.Start(w.ctx, bc); err != nil {
				b.Fatal(err)
			}
			e1.run(w.ctx, relay.WorkerConfig{Concurrency: 16, Block: 50 * time.Millisecond})
			e2.run(w.ctx, relay.WorkerConfig{Concurrency: 16, Block: 50 * time.Millisecond})
			w.waitSettled(e1, bc.ID, 2*time.Minute)
			_ = e1.shutdown()
			_ = e2.shutdown()
			w.counter.mu.Lock()
			times := w.counter.times
			w.counter.mu.Unlock()
			if len(times) != n {
				b.Fatalf("%d messages posted, want %d", len(times), n)
			}
			achieved := float64(n-1) / times[n-1].Sub(times[0]).Seconds()
			ratio += achieved / rate
		}
		b.ReportMetric(ratio/float64(b.N), "achieved/R")
	})
}

// benchN is n, or HERALD_BENCH_N when set (a quick look at a benchmark).
func benchN(n int) int {
	if v, err := strconv.Atoi(os.Getenv("HERALD_BENCH_N")); err == nil && v > 0 {
		return v
	}
	return n
}

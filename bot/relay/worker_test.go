package relay_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/bottest"
	"github.com/heraldops/herald/bot/relay"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func enqueueN(t *testing.T, q bot.Queue, topic string, n int) {
	t.Helper()
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = []byte(fmt.Sprint(i))
	}
	if err := q.Enqueue(context.Background(), topic, ps...); err != nil {
		t.Fatal(err)
	}
}

func TestWorkersHandleEveryJobOnceWithinConcurrency(t *testing.T) {
	store := bottest.NewStore(nil)
	enqueueN(t, store, "t", 200)
	var mu sync.Mutex
	seen := map[string]int{}
	var running, peak atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- relay.RunWorkers(ctx, relay.WorkerConfig{Queue: store, Topic: "t", Consumer: "c1", Concurrency: 4, Block: 5 * time.Millisecond},
			func(_ context.Context, j bot.Job) error {
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				mu.Lock()
				seen[string(j.Payload)]++
				mu.Unlock()
				return nil
			})
	}()
	eventually(t, 5*time.Second, "all jobs acked", func() bool { return store.Pending("t") == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != 200 {
		t.Errorf("handled %d distinct jobs, want 200", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("job %s handled %d times", p, n)
		}
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d jobs ran at once, concurrency is 4", p)
	}
}

func TestFailedJobStaysPendingAndIsReclaimedByAnotherConsumer(t *testing.T) {
	clock := bottest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	store := bottest.NewStore(clock)
	enqueueN(t, store, "t", 1)
	var errs []error
	var mu sync.Mutex
	cfg := relay.WorkerConfig{Queue: store, Topic: "t", Concurrency: 1, Block: 5 * time.Millisecond,
		ReclaimAfter: time.Minute, ReclaimEvery: 5 * time.Millisecond,
		OnError: func(_ context.Context, err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}

	// given: the first consumer fails the job
	failing := cfg
	failing.Consumer = "dying"
	attempts := make(chan int64, 10)
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() {
		done1 <- relay.RunWorkers(ctx1, failing, func(_ context.Context, j bot.Job) error {
			attempts <- j.Deliveries
			return errors.New("store unavailable")
		})
	}()
	if d := <-attempts; d != 1 {
		t.Fatalf("first delivery = %d", d)
	}
	stop1()
	<-done1
	if store.Pending("t") != 1 {
		t.Fatal("a failed job was acked")
	}
	mu.Lock()
	if len(errs) == 0 {
		t.Error("the handler's error was not reported")
	}
	mu.Unlock()

	// when: another consumer runs, before and after ReclaimAfter
	handled := make(chan int64, 1)
	healthy := cfg
	healthy.Consumer = "healthy"
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	done2 := make(chan error, 1)
	go func() {
		done2 <- relay.RunWorkers(ctx2, healthy, func(_ context.Context, j bot.Job) error {
			handled <- j.Deliveries
			return nil
		})
	}()
	select {
	case <-handled:
		t.Fatal("job reclaimed before ReclaimAfter")
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(2 * time.Minute)
	select {
	case d := <-handled:
		if d != 2 {
			t.Errorf("reclaimed job's delivery count = %d, want 2", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("abandoned job never reclaimed")
	}
	eventually(t, 5*time.Second, "the reclaimed job acked", func() bool { return store.Pending("t") == 0 })
	stop2()
	<-done2
}

func TestShutdownFinishesInFlightJobs(t *testing.T) {
	tests := []struct {
		name       string
		grace      time.Duration
		wantAcked  bool
		wantCancel bool
	}{
		{"graceful: the job finishes and is acked", time.Minute, true, false},
		{"abrupt: the handler's context ends, the job stays pending", -1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := bottest.NewStore(nil)
			enqueueN(t, store, "t", 1)
			started, release := make(chan struct{}), make(chan struct{})
			var cancelled atomic.Bool
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- relay.RunWorkers(ctx, relay.WorkerConfig{Queue: store, Topic: "t", Consumer: "c", Block: 5 * time.Millisecond, ShutdownGrace: tt.grace},
					func(hctx context.Context, _ bot.Job) error {
						close(started)
						select {
						case <-release:
							return nil
						case <-hctx.Done():
							cancelled.Store(true)
							return hctx.Err()
						}
					})
			}()
			<-started
			stop() // SIGTERM while a job is in flight
			if tt.wantCancel {
				// However slowly the machine gets there, RunWorkers returns
				// without the handler being released.
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("abrupt stop did not cancel the handler")
				}
			} else {
				select {
				case <-done:
					t.Fatal("RunWorkers returned while a job was still in flight")
				case <-time.After(30 * time.Millisecond):
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if acked := store.Pending("t") == 0; acked != tt.wantAcked {
				t.Errorf("acked = %v, want %v", acked, tt.wantAcked)
			}
			if cancelled.Load() != tt.wantCancel {
				t.Errorf("handler cancelled = %v, want %v", cancelled.Load(), tt.wantCancel)
			}
		})
	}
}

func TestBackoffGrowsExponentiallyWithFullJitter(t *testing.T) {
	b := bot.Backoff{Base: 100 * time.Millisecond, Max: time.Second, Rand: func() float64 { return 0.999999 }}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n, w := range want {
		if got := b.Delay(n); got > w*time.Millisecond || got < w*time.Millisecond*99/100 {
			t.Errorf("Delay(%d) = %v, want just under %v", n, got, w*time.Millisecond)
		}
	}
	b.Rand = func() float64 { return 0 }
	if got := b.Delay(3); got != 0 {
		t.Errorf("full jitter can wait 0, got %v", got)
	}
	if got := (bot.Backoff{Rand: func() float64 { return 0.5 }}).Delay(100); got != 15*time.Second {
		t.Errorf("defaults at a huge attempt: %v, want half the 30s ceiling", got)
	}
}

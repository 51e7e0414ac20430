package relay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldops/herald/bot"
)

// WorkerConfig tunes RunWorkers.
type WorkerConfig struct {
	Queue    bot.Queue
	Topic    string
	Consumer string // unique per process (host name + pid), so dead consumers' jobs can be told apart
	// Concurrency is how many jobs are handled at once (default 8).
	Concurrency int
	// ClaimBatch is the most jobs claimed in one round trip (default
	// Concurrency). Only free slots are ever claimed, so a claimed job is
	// handled at once and does not sit idle long enough to look abandoned.
	ClaimBatch int
	// Block is how long one Claim waits for new jobs (default 2s).
	Block time.Duration
	// ReclaimAfter is how long a job may stay claimed but unacked before
	// another consumer takes it over. With a queue that keeps leases
	// (bot.Leases) the default is 5s: a live consumer renews its lease and
	// its in-flight jobs every ReclaimAfter/3, so only a dead consumer's jobs
	// (and jobs whose handler failed) go idle that long. Without leases the
	// default is 30s, and it must exceed the longest time a handler takes,
	// or a live consumer's job is handled twice (handlers must be idempotent
	// anyway).
	ReclaimAfter time.Duration
	// ReclaimEvery is how often abandoned jobs are looked for (default
	// ReclaimAfter/5 with leases, ReclaimAfter/2 without).
	ReclaimEvery time.Duration
	// ShutdownGrace is how long in-flight handlers may keep running after ctx
	// ends (default 10s); a negative value cancels them at once (an abrupt
	// stop, as in a crash test).
	ShutdownGrace time.Duration
	// MaxDeliveries, when > 0, gives up on (acks) a job handed out that many
	// times, so one poisoned job cannot loop forever. 0: never give up.
	MaxDeliveries int64
	// OnError reports handler and queue errors (logging, metrics); optional.
	OnError func(ctx context.Context, err error)
	// Prepare, when set, sees each claimed batch before its jobs are
	// handled, to load in one round trip what they will each need; optional.
	Prepare func(ctx context.Context, jobs []bot.Job)
}

func (c *WorkerConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.ClaimBatch <= 0 || c.ClaimBatch > c.Concurrency {
		c.ClaimBatch = c.Concurrency
	}
	if c.Block <= 0 {
		c.Block = 2 * time.Second
	}
	_, leases := c.Queue.(bot.Leases)
	if c.ReclaimAfter <= 0 {
		c.ReclaimAfter = 30 * time.Second
		if leases {
			c.ReclaimAfter = 5 * time.Second
		}
	}
	if c.ReclaimEvery <= 0 {
		c.ReclaimEvery = c.ReclaimAfter / 2
		if leases {
			c.ReclaimEvery = c.ReclaimAfter / 5
		}
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
}

// ackBatch is how many acks are sent in one round trip, and ackDelay how
// long an ack may wait for company. A lost ack (crash before the flush) only
// means the job is handled again, which handlers tolerate.
const (
	ackBatch = 64
	ackDelay = 20 * time.Millisecond
)

// RunWorkers takes jobs of one topic from the queue and hands each to handle,
// at most Concurrency at a time, until ctx ends. A job is acked after handle
// returns nil; when handle fails the job stays pending and is handed out
// again after ReclaimAfter (to this or another consumer). Jobs that a dead
// consumer left behind are reclaimed the same way. When ctx ends no new job
// is taken, in-flight jobs finish (within ShutdownGrace) and their acks are
// flushed before RunWorkers returns.
func RunWorkers(ctx context.Context, cfg WorkerConfig, handle func(ctx context.Context, j bot.Job) error) error {
	cfg.defaults()
	if cfg.Queue == nil || cfg.Topic == "" || cfg.Consumer == "" {
		return fmt.Errorf("starting workers: queue, topic and consumer are required")
	}
	report := func(err error) {
		if cfg.OnError != nil {
			cfg.OnError(ctx, err)
		}
	}

	// Handlers keep running after ctx ends (graceful shutdown) but not
	// beyond the grace period.
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	stopGrace := context.AfterFunc(ctx, func() {
		if cfg.ShutdownGrace < 0 {
			cancelHandlers()
			return
		}
		t := time.AfterFunc(cfg.ShutdownGrace, cancelHandlers)
		context.AfterFunc(handlerCtx, func() { t.Stop() })
	})
	defer stopGrace()

	acks := newAcker(handlerCtx, cfg.Queue, cfg.Topic, report)
	held := newHeld()
	if leases, ok := cfg.Queue.(bot.Leases); ok {
		stopRenewing := renewLeases(handlerCtx, leases, cfg, held, report)
		defer stopRenewing()
	}
	slots := make(chan struct{}, cfg.Concurrency)
	var inFlight sync.WaitGroup
	dispatch := func(jobs []bot.Job) {
		if cfg.Prepare != nil && len(jobs) > 0 {
			cfg.Prepare(handlerCtx, jobs)
		}
		for _, j := range jobs {
			inFlight.Add(1)
			held.add(j.ID)
			go func() {
				defer func() { held.remove(j.ID); <-slots; inFlight.Done() }()
				if cfg.MaxDeliveries > 0 && j.Deliveries > cfg.MaxDeliveries {
					report(fmt.Errorf("giving up on job %s of %s after %d deliveries", j.ID, cfg.Topic, j.Deliveries))
					acks.add(j.ID)
					return
				}
				if err := handle(handlerCtx, j); err != nil {
					report(fmt.Errorf("handling job %s of %s (delivery %d): %w", j.ID, cfg.Topic, j.Deliveries, err))
					return
				}
				acks.add(j.ID)
			}()
		}
	}

	// take waits for one free slot, then grabs as many more as are free.
	take := func() int {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return 0
		}
		n := 1
		for n < cfg.ClaimBatch {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		return n
	}
	giveBack := func(n int) {
		for range n {
			<-slots
		}
	}

	// Reclaim once at start: a restarted replica picks up what it (or a dead
	// peer) left behind without waiting a full period.
	lastReclaim := time.Time{}
	for ctx.Err() == nil {
		n := take()
		if n == 0 {
			break
		}
		if time.Since(lastReclaim) >= cfg.ReclaimEvery {
			lastReclaim = time.Now()
			jobs, err := cfg.Queue.Reclaim(ctx, cfg.Topic, cfg.Consumer, cfg.ReclaimAfter, n)
			if err != nil && ctx.Err() == nil {
				report(fmt.Errorf("reclaiming abandoned jobs of %s: %w", cfg.Topic, err))
			}
			if len(jobs) > 0 {
				giveBack(n - len(jobs))
				dispatch(jobs)
				continue
			}
		}
		jobs, err := cfg.Queue.Claim(ctx, cfg.Topic, cfg.Consumer, n, cfg.Block)
		if err != nil {
			giveBack(n)
			if ctx.Err() != nil {
				break
			}
			report(fmt.Errorf("claiming jobs of %s: %w", cfg.Topic, err))
			_ = bot.Sleep(ctx, time.Second) // the queue is down: do not spin
			continue
		}
		giveBack(n - len(jobs))
		dispatch(jobs)
	}
	inFlight.Wait()
	acks.close()
	return nil
}

// held is the set of jobs this consumer is working on.
type held struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func newHeld() *held { return &held{ids: map[string]struct{}{}} }

func (h *held) add(id string) {
	h.mu.Lock()
	h.ids[id] = struct{}{}
	h.mu.Unlock()
}

func (h *held) remove(id string) {
	h.mu.Lock()
	delete(h.ids, id)
	h.mu.Unlock()
}

func (h *held) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.ids))
	for id := range h.ids {
		out = append(out, id)
	}
	return out
}

// renewLeases keeps the consumer's lease and its in-flight jobs fresh every
// ReclaimAfter/3 until the returned stop is called: three chances to renew
// before anyone may take over. It renews once before returning, so the
// consumer is known alive before its first attempt records it.
func renewLeases(ctx context.Context, leases bot.Leases, cfg WorkerConfig, h *held, report func(error)) (stop func()) {
	renew := func() {
		if err := leases.Renew(ctx, cfg.Topic, cfg.Consumer, cfg.ReclaimAfter, h.list()); err != nil && ctx.Err() == nil {
			report(fmt.Errorf("renewing the lease of consumer %s: %w", cfg.Consumer, err))
		}
	}
	renew()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(cfg.ReclaimAfter/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				renew()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// acker batches acks into few round trips.
type acker struct {
	ctx    context.Context
	q      bot.Queue
	topic  string
	report func(error)
	ids    chan string
	done   chan struct{}
}

func newAcker(ctx context.Context, q bot.Queue, topic string, report func(error)) *acker {
	a := &acker{ctx: ctx, q: q, topic: topic, report: report, ids: make(chan string, ackBatch), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *acker) add(id string) { a.ids <- id }

// close flushes what is left; call it once no add can happen any more.
func (a *acker) close() {
	close(a.ids)
	<-a.done
}

func (a *acker) run() {
	defer close(a.done)
	batch := make([]string, 0, ackBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := a.q.Ack(a.ctx, a.topic, batch...); err != nil {
			a.report(fmt.Errorf("acking %d jobs of %s: %w", len(batch), a.topic, err))
		}
		batch = batch[:0]
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case id, ok := <-a.ids:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(ackDelay)
			}
			batch = append(batch, id)
			if len(batch) >= ackBatch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

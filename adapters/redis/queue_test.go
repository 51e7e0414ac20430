package redis

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/internal/crypto"
)

func payloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"job":%d}`, i))
	}
	return out
}

func TestQueueEnqueueClaimAck(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	q := f.store
	must(t, q.Enqueue(ctx, "relay", payloads(3)...))

	// A replica that never saw the topic before finds the jobs.
	worker := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)
	jobs, err := worker.Claim(ctx, "relay", "w1", 2, 0)
	must(t, err)
	if len(jobs) != 2 || string(jobs[0].Payload) != `{"job":0}` || string(jobs[1].Payload) != `{"job":1}` {
		t.Fatalf("first claim = %+v", jobs)
	}
	for _, j := range jobs {
		if j.Deliveries != 1 || j.Topic != "relay" || j.ID == "" {
			t.Fatalf("job = %+v", j)
		}
	}
	more, err := worker.Claim(ctx, "relay", "w2", 10, 0)
	must(t, err)
	if len(more) != 1 || string(more[0].Payload) != `{"job":2}` {
		t.Fatalf("second claim = %+v", more)
	}
	none, err := worker.Claim(ctx, "relay", "w1", 10, 0)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("claimed a job twice: %+v", none)
	}

	must(t, worker.Ack(ctx, "relay", jobs[0].ID, jobs[1].ID, more[0].ID))
	if n, _ := q.QueueDepth(ctx, "relay"); n != 0 {
		t.Fatalf("depth after acking everything = %d", n)
	}
	if p := f.client.XPending(ctx, q.streamKey("relay"), consumerGroup).Val(); p.Count != 0 {
		t.Fatalf("pending after acking everything = %d", p.Count)
	}
	// Nothing idle to reclaim either.
	if got, _ := worker.Reclaim(ctx, "relay", "w3", 0, 10); len(got) != 0 {
		t.Fatalf("reclaimed acked jobs: %+v", got)
	}
}

func TestClaimWaitsForWork(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	got := make(chan []byte, 1)
	go func() {
		jobs, err := f.store.Claim(ctx, "relay", "w1", 1, 10*time.Second)
		if err != nil || len(jobs) != 1 {
			t.Errorf("Claim = %v, %v", jobs, err)
			got <- nil
			return
		}
		got <- jobs[0].Payload
	}()
	must(t, f.store.Enqueue(ctx, "relay", []byte("late job")))
	if p := <-got; string(p) != "late job" {
		t.Fatalf("payload = %q", p)
	}

	// And with nothing there, a short block returns empty-handed.
	jobs, err := f.store.Claim(ctx, "relay", "w1", 1, 50*time.Millisecond)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("Claim on an empty queue = %v, %v", jobs, err)
	}
}

// If Redis loses the stream and its group (restart without persistence,
// someone flushed it) while a replica remembers having created it, the
// replica recreates the group instead of failing forever.
func TestClaimRecreatesALostGroup(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	must(t, f.store.Enqueue(ctx, "relay", []byte("before")))
	must(t, f.client.Del(ctx, f.store.streamKey("relay")).Err())
	must(t, f.client.XAdd(ctx, &goredis.XAddArgs{Stream: f.store.streamKey("relay"), Values: []any{payloadField, f.store.sealer.Seal([]byte("after"))}}).Err())

	jobs, err := f.store.Claim(ctx, "relay", "w1", 10, 0)
	must(t, err)
	if len(jobs) != 1 || string(jobs[0].Payload) != "after" {
		t.Fatalf("Claim after losing the group = %+v", jobs)
	}
}

func TestReclaimCountsDeliveries(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	q := f.store
	must(t, q.Enqueue(ctx, "relay", []byte("x")))
	_, err := q.Claim(ctx, "relay", "a", 1, 0)
	must(t, err)

	// minIdle not reached yet: nothing to take over
	if got, _ := q.Reclaim(ctx, "relay", "b", time.Hour, 10); len(got) != 0 {
		t.Fatalf("reclaimed a job that is not idle: %+v", got)
	}
	got, err := q.Reclaim(ctx, "relay", "b", 0, 10)
	must(t, err)
	if len(got) != 1 || got[0].Deliveries != 2 || string(got[0].Payload) != "x" {
		t.Fatalf("first reclaim = %+v, want the job with Deliveries 2", got)
	}
	got, err = q.Reclaim(ctx, "relay", "c", 0, 10)
	must(t, err)
	if len(got) != 1 || got[0].Deliveries != 3 {
		t.Fatalf("second reclaim = %+v, want Deliveries 3", got)
	}
}

// A payload that cannot be opened (sealed under another data key) would fail
// on every claim; it goes to the dead-letter stream instead.
func TestUnreadableJobIsDeadLettered(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	stranger := New(f.client, f.prefix, crypto.MustNewSealer(make([]byte, 32)), f.clock)
	must(t, stranger.Enqueue(ctx, "relay", []byte("other key")))
	must(t, f.store.Enqueue(ctx, "relay", []byte("good")))

	jobs, err := f.store.Claim(ctx, "relay", "w", 10, 0)
	must(t, err)
	if len(jobs) != 1 || string(jobs[0].Payload) != "good" {
		t.Fatalf("Claim = %+v", jobs)
	}
	if n := f.client.XLen(ctx, f.store.streamKey("relay")+":dead").Val(); n != 1 {
		t.Fatalf("dead letters = %d, want 1", n)
	}
	if p := f.client.XPending(ctx, f.store.streamKey("relay"), consumerGroup).Val(); p.Count != 1 {
		t.Fatalf("pending = %d, want only the good job", p.Count)
	}
}

func TestManyConsumersEachJobOnce(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	const n = 500
	must(t, f.store.Enqueue(ctx, "relay", payloads(n)...))

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 6 {
		s := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)
		wg.Go(func() {
			for {
				jobs, err := s.Claim(ctx, "relay", fmt.Sprintf("w%d", w), 7, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				ids := make([]string, len(jobs))
				mu.Lock()
				for i, j := range jobs {
					seen[string(j.Payload)]++
					ids[i] = j.ID
				}
				mu.Unlock()
				if err := s.Ack(ctx, "relay", ids...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct jobs done, want %d", len(seen), n)
	}
	for p, c := range seen {
		if c != 1 {
			t.Fatalf("job %s handed out %d times", p, c)
		}
	}
}

// The crash test. Consumer A runs in its own process with its own
// connections, claims jobs, finishes some, and is killed (SIGKILL) in the
// middle of the next one. Consumer B reclaims A's unfinished jobs once they
// have been idle long enough and finishes them. Every job's side effect
// happens exactly once.
func TestKilledConsumersJobsAreReclaimedAndDoneOnce(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	const jobs, finishedByA = 12, 5
	must(t, f.store.Enqueue(ctx, "relay", payloads(jobs)...))
	doneKey := f.prefix + "test:done" // the side effect: job payload -> times done

	// given consumer A, a separate process, stuck in job 6 of its 12
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(),
		childEnv+"=1",
		"CHILD_REDIS="+f.server.Addr(),
		"CHILD_PREFIX="+f.prefix,
		"CHILD_DONE_KEY="+doneKey,
		"CHILD_FINISH="+strconv.Itoa(finishedByA),
	)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "mid-job") {
		_ = child.Process.Kill()
		t.Fatalf("consumer A said %q, %v", line, err)
	}

	// when A is killed
	must(t, child.Process.Kill())
	_ = child.Wait()
	if n := f.client.HLen(ctx, doneKey).Val(); n != finishedByA {
		t.Fatalf("A finished %d jobs before dying, want %d", n, finishedByA)
	}

	// then B, after the jobs idle for minIdle, takes them over and finishes them
	const minIdle = 300 * time.Millisecond
	b := New(f.server.Client(t), f.prefix, f.store.sealer, f.clock)
	var reclaimed []string
	deadline := time.Now().Add(10 * time.Second)
	for len(reclaimed) < jobs-finishedByA {
		if time.Now().After(deadline) {
			t.Fatalf("B reclaimed only %v before the deadline", reclaimed)
		}
		got, err := b.Reclaim(ctx, "relay", "B", minIdle, 100)
		must(t, err)
		for _, j := range got {
			if j.Deliveries < 2 {
				t.Errorf("reclaimed job %s says Deliveries %d", j.Payload, j.Deliveries)
			}
			must(t, f.client.HIncrBy(ctx, doneKey, string(j.Payload), 1).Err())
			must(t, b.Ack(ctx, "relay", j.ID))
			reclaimed = append(reclaimed, string(j.Payload))
		}
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond) // poll until A's jobs have idled for minIdle
		}
	}
	// B also works whatever A never got to.
	for {
		got, err := b.Claim(ctx, "relay", "B", 100, 0)
		must(t, err)
		if len(got) == 0 {
			break
		}
		for _, j := range got {
			must(t, f.client.HIncrBy(ctx, doneKey, string(j.Payload), 1).Err())
			must(t, b.Ack(ctx, "relay", j.ID))
		}
	}

	done := f.client.HGetAll(ctx, doneKey).Val()
	if len(done) != jobs {
		t.Fatalf("%d jobs done, want %d: %v", len(done), jobs, done)
	}
	for p, n := range done {
		if n != "1" {
			t.Errorf("job %s done %s times", p, n)
		}
	}
	sort.Strings(reclaimed)
	t.Logf("A finished %d jobs; B reclaimed %v", finishedByA, reclaimed)
	if p := f.client.XPending(ctx, f.store.streamKey("relay"), consumerGroup).Val(); p.Count != 0 {
		t.Fatalf("%d jobs still pending", p.Count)
	}
	if n, _ := f.store.QueueDepth(ctx, "relay"); n != 0 {
		t.Fatalf("%d jobs left in the stream", n)
	}
}

// childEnv makes the test binary act as consumer A of the crash test.
const childEnv = "HERALD_REDIS_QUEUE_CHILD"

// runChildConsumer is consumer A: claim everything, finish CHILD_FINISH
// jobs, then hang in the next one until killed.
func runChildConsumer() {
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: os.Getenv("CHILD_REDIS")})
	s := New(c, os.Getenv("CHILD_PREFIX"), crypto.MustNewSealer(testKey), nil)
	finish, _ := strconv.Atoi(os.Getenv("CHILD_FINISH"))
	jobs, err := s.Claim(ctx, "relay", "A", 100, 0)
	if err != nil || len(jobs) <= finish {
		fmt.Printf("claim failed: %d jobs, %v\n", len(jobs), err)
		os.Exit(1)
	}
	for _, j := range jobs[:finish] {
		if err := c.HIncrBy(ctx, os.Getenv("CHILD_DONE_KEY"), string(j.Payload), 1).Err(); err != nil {
			fmt.Printf("side effect failed: %v\n", err)
			os.Exit(1)
		}
		if err := s.Ack(ctx, "relay", j.ID); err != nil {
			fmt.Printf("ack failed: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Println("mid-job", string(jobs[finish].Payload))
	select {} // stuck calling the provider, say, until SIGKILL
}

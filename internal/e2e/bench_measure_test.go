package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The fan-out benchmark's instruments: what a run cost herald's process,
// and Redis. Process CPU and allocation include the in-process fake Twilio;
// the bare loop, measured the same way against the same fake, is the
// reference that shows herald's own share.

// sample is the state of the meters at one moment.
type sample struct {
	at         time.Time
	cpu        time.Duration // user + system CPU of this process
	alloc      uint64        // bytes allocated by this process so far
	redisCmds  int64         // commands Redis has processed (all clients)
	redisCPU   time.Duration // Redis server CPU
	roundTrips int64         // round trips counted by roundTripCounter
}

// cost is the difference of two samples, per message.
type cost struct {
	n          int
	elapsed    time.Duration
	cpu        time.Duration
	alloc      uint64
	redisCmds  int64
	redisCPU   time.Duration
	roundTrips int64
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// redisInfo reads total_commands_processed and the server's CPU time.
func redisInfo(ctx context.Context, addr string) (cmds int64, cpu time.Duration) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "INFO everything\r\n"); err != nil {
		return 0, 0
	}
	rd := bufio.NewReader(conn)
	head, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, 0
	}
	size, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	body := make([]byte, size)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0, 0
	}
	var secs float64
	for _, line := range strings.Split(string(body), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "total_commands_processed":
			cmds, _ = strconv.ParseInt(v, 10, 64)
		case "used_cpu_user", "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			secs += f
		}
	}
	return cmds, time.Duration(secs * float64(time.Second))
}

func (w *world) sample(rt *roundTripCounter) sample {
	s := sample{at: time.Now(), cpu: processCPU(), alloc: totalAlloc()}
	s.redisCmds, s.redisCPU = redisInfo(w.ctx, w.redis.Addr())
	if rt != nil {
		s.roundTrips = rt.n.Load()
	}
	// The INFO connection itself is one command; it does not matter at
	// thousands of messages.
	return s
}

func since(a, b sample, n int) cost {
	return cost{
		n: n, elapsed: b.at.Sub(a.at), cpu: b.cpu - a.cpu, alloc: b.alloc - a.alloc,
		redisCmds: b.redisCmds - a.redisCmds, redisCPU: b.redisCPU - a.redisCPU, roundTrips: b.roundTrips - a.roundTrips,
	}
}

func (c cost) perSecond() float64 { return float64(c.n) / c.elapsed.Seconds() }

func (c cost) report(b *testing.B, prefix string) {
	n := float64(c.n)
	b.ReportMetric(c.perSecond(), prefix+"messages/s")
	b.ReportMetric(float64(c.cpu.Microseconds())/n, prefix+"cpu-µs/message")
	b.ReportMetric(float64(c.alloc)/n, prefix+"B-alloc/message")
	if prefix == "" {
		b.ReportMetric(float64(c.redisCmds)/n, "redis-cmds/message")
		b.ReportMetric(float64(c.roundTrips)/n, "redis-roundtrips/message")
		b.ReportMetric(float64(c.redisCPU.Microseconds())/n, "redis-cpu-µs/message")
	}
}

// roundTripCounter is a go-redis hook counting round trips: one per command
// sent alone, one per pipeline or transaction.
type roundTripCounter struct{ n atomic.Int64 }

func (c *roundTripCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *roundTripCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *roundTripCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// bareLoop is the reference: workers posting Messages.json as fast as the
// fake answers, with nothing durable around it, over the same pooled HTTP
// client herald's Messenger uses in the benchmark.
func (w *world) bareLoop(b *testing.B, workers, n int) cost {
	b.Helper()
	endpoint := w.fake.URL + "/2010-04-01/Accounts/" + w.fake.AccountSID + "/Messages.json"
	var next atomic.Int64
	var failed atomic.Int64
	before := w.sample(nil)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				form := url.Values{
					"To": {"+4915400" + strconv.FormatInt(1_000_000+i, 10)}, "From": {smsFrom},
					"Body":           {"[SEV2] Checkout down: we are investigating. Next update 10:30. Reply to reach the incident team."},
					"StatusCallback": {publicURL + "/twilio/status"},
				}
				req, _ := http.NewRequestWithContext(w.ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(w.fake.AccountSID, w.fake.AuthToken)
				resp, err := w.http.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	after := w.sample(nil)
	if f := failed.Load(); f > 0 {
		b.Fatalf("bare loop: %d of %d posts failed", f, n)
	}
	return since(before, after, n)
}

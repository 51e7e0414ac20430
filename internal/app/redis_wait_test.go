package app

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A Redis that comes up after herald: herald says what it waits for, with
// the password hidden, and goes on by itself once Redis answers.
func TestWaitForRedisUntilItAnswers(t *testing.T) {
	// given a Redis address nothing listens on yet
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	log := zerolog.New(logs)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// when herald waits for it, and Redis starts after the first failed try
	go func() {
		done <- waitForRedis(ctx, "redis://:s3cret@"+addr+"/0", log, 10*time.Millisecond, 50*time.Millisecond)
	}()
	for !strings.Contains(logs.String(), "waiting for Redis") {
		select {
		case err := <-done:
			t.Fatalf("returned before Redis was up: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	mr := miniredis.NewMiniRedis()
	mr.RequireAuth("s3cret")
	if err := mr.StartAddr(addr); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()

	// then it returns nil and the log said where and why, never the password
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waitForRedis = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("still waiting after Redis started")
	}
	out := logs.String()
	for _, want := range []string{`"level":"warn"`, `"redis":"redis://:xxxxx@` + addr, `"mode":"single"`, "connection refused", `"retry_in"`, "Redis answers; starting"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("log shows the password:\n%s", out)
	}
}

func TestWaitForRedisStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := waitForRedis(ctx, "redis://"+freeAddr(t)+"/0", zerolog.Nop(), 10*time.Millisecond, 10*time.Millisecond)
	if err != context.Canceled {
		t.Fatalf("waitForRedis after cancel = %v, want context.Canceled", err)
	}
}

// A malformed URL never heals: no waiting.
func TestWaitForRedisRefusesABadURLAtOnce(t *testing.T) {
	start := time.Now()
	err := waitForRedis(context.Background(), "redis-sentinel://s1:26379/0", zerolog.Nop(), time.Hour, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "master_name") || time.Since(start) > 5*time.Second {
		t.Fatalf("waitForRedis(bad URL) = %v after %s", err, time.Since(start))
	}
}

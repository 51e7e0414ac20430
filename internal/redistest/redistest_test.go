package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStartAnswersAndKillStops(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("GET = %q", got)
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL())
	}
	// Persistence is off: nothing a test writes may reach the disk.
	if cfg := c.ConfigGet(ctx, "save").Val()["save"]; cfg != "" {
		t.Fatalf("save = %q, want snapshots off", cfg)
	}
	if cfg := c.ConfigGet(ctx, "appendonly").Val()["appendonly"]; cfg != "no" {
		t.Fatalf("appendonly = %q", cfg)
	}

	s.Kill()
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx2).Err(); err == nil {
		t.Fatal("PING after Kill succeeded")
	}
	s.Kill() // a second Kill (and the cleanup) must not hang or panic
}

func TestTwoServersAreIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatal("two servers on one address")
	}
	a.Client(t).Set(ctx, "only-in-a", 1, 0)
	if n := b.Client(t).Exists(ctx, "only-in-a").Val(); n != 0 {
		t.Fatal("a key written to one server is visible on the other")
	}
}

func TestClusterEnforcesSlots(t *testing.T) {
	ctx := context.Background()
	s := StartCluster(t)
	c := s.Client(t)
	// "a" and "b" hash to different slots: a real cluster refuses them in
	// one command, and so must this one.
	err := c.Do(ctx, "MSET", "a", 1, "b", 2).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots: err = %v, want CROSSSLOT", err)
	}
	if err := c.Do(ctx, "MSET", "{x}a", 1, "{x}b", 2).Err(); err != nil {
		t.Fatalf("MSET in one slot: %v", err)
	}
}

func TestPrefixIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p := Prefix(t)
		if seen[p] {
			t.Fatalf("prefix %q handed out twice", p)
		}
		seen[p] = true
		if strings.ContainsAny(p, "{}* ?[]") || !strings.HasSuffix(p, ":") {
			t.Fatalf("prefix %q has characters that mean something to Redis", p)
		}
	}
}

// fatalTB records Fatal and stops the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestMissingServerSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(f)
	}()
	<-done
	if !strings.Contains(f.msg, "apt-get install -y redis-server") {
		t.Fatalf("Fatal message = %q", f.msg)
	}
}

package redis

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/redistest"
)

// One real redis-server serves the whole package; each test gets its own
// key prefix.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChildConsumer() // this process is consumer A of the crash test
		return
	}
	redistest.Main(m)
}

// testKey is the data key of every test store.
var testKey = bytes.Repeat([]byte{42}, crypto.KeySize)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *manualClock { return &manualClock{now: time.Now().Truncate(time.Millisecond)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	store  *Store
	client goredis.UniversalClient
	server *redistest.Server
	clock  *manualClock
	prefix string
}

// newFixture returns a store on the shared server under a prefix of its own.
func newFixture(t *testing.T, opts ...Option) fixture {
	t.Helper()
	srv := redistest.Shared(t)
	c := srv.Client(t)
	clock := newClock()
	prefix := redistest.Prefix(t)
	return fixture{
		store:  New(c, prefix, crypto.MustNewSealer(testKey), clock, opts...),
		client: c,
		server: srv,
		clock:  clock,
		prefix: prefix,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

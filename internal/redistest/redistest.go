package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// missingServer is what a developer without redis-server reads.
const missingServer = "redis-server not found: install it with `apt-get install -y redis-server` (make test needs it)"

// startTimeout bounds how long a server may take to answer PING; the
// machine may be busy with other test binaries.
const startTimeout = 20 * time.Second

// Server is one redis-server process listening on a loopback port.
type Server struct {
	addr    string
	dir     string
	cluster bool
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	logPath string
	stopped atomic.Bool
}

type options struct {
	cluster bool
}

// Start launches a fresh redis-server for one test, with persistence off, and
// kills it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return startFor(t, options{})
}

// StartCluster launches a redis-server in cluster mode owning all 16384
// slots: a one-node Redis Cluster. Multi-key commands and transactions whose
// keys hash to different slots fail with CROSSSLOT there, exactly as on a real
// cluster, so code meant for Cluster can be checked on one process.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	return startFor(t, options{cluster: true})
}

func startFor(t testing.TB, o options) *Server {
	t.Helper()
	s, err := start(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// start launches redis-server in dir, retrying on another port if the one it
// picked was taken in the meantime (several test binaries run at once).
func start(dir string, o options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New(missingServer)
	}
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		s, err := startOnce(bin, dir, attempt, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin, dir string, attempt int, o options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("finding a free port for redis-server: %w", err)
	}
	s := &Server{
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:     dir,
		cluster: o.cluster,
		exited:  make(chan struct{}),
		logPath: filepath.Join(dir, fmt.Sprintf("redis-%d.log", attempt)),
	}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--protected-mode", "no",
		"--logfile", s.logPath,
	}
	if o.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", attempt)))
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, fmt.Errorf("redis-server on %s did not come up: %w\n%s", s.addr, err, s.logTail())
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	pinged := false
	for {
		select {
		case <-s.exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if !pinged {
			if c.Ping(ctx).Err() != nil {
				continue
			}
			// Make sure the server answering is ours, not a neighbour's
			// that won the race for the port.
			dir, err := c.ConfigGet(ctx, "dir").Result()
			if err != nil {
				continue
			}
			if got, _ := filepath.EvalSymlinks(dir["dir"]); got != mustEval(s.dir) {
				return fmt.Errorf("port %s answered by another redis-server (dir %s)", s.addr, dir["dir"])
			}
			pinged = true
			if s.cluster {
				if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
					return fmt.Errorf("assigning cluster slots: %w", err)
				}
			}
		}
		if !s.cluster {
			return nil
		}
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
	}
}

func mustEval(p string) string {
	if got, err := filepath.EvalSymlinks(p); err == nil {
		return got
	}
	return p
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no redis-server log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "redis-server log:\n" + string(b)
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server as REDIS_URL would name it. For a cluster server it lists
// the node twice, which is how herald's REDIS_URL asks for Cluster mode.
func (s *Server) URL() string {
	if s.cluster {
		return "redis://" + s.addr + "," + s.addr
	}
	return "redis://" + s.addr + "/0"
}

// Kill ends the server at once (SIGKILL), as a crash would, and waits until
// the process is gone. Clients see their connections drop.
func (s *Server) Kill() { s.stop() }

func (s *Server) stop() {
	if !s.stopped.CompareAndSwap(false, true) {
		<-s.exited
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Client returns a go-redis client for the server (a cluster client for a
// cluster server), closed when the test ends.
func (s *Server) Client(t testing.TB) goredis.UniversalClient {
	t.Helper()
	var c goredis.UniversalClient
	if s.cluster {
		c = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{s.addr}})
	} else {
		c = goredis.NewClient(&goredis.Options{Addr: s.addr})
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FlushAll empties the server. Tests on a Shared server should prefer
// Prefix, since FlushAll also wipes what parallel tests are using.
func (s *Server) FlushAll(t testing.TB) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.addr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
}

var (
	sharedMu sync.Mutex
	shared   *Server
)

// Main runs a package's tests with one redis-server shared by all of them,
// which saves starting one per test. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// and get the server with Shared in each test.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain with its own clean-up to do
// after the tests: it returns the exit code.
func Run(m *testing.M) int { return runMain(m) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest: creating a directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := start(dir, options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	defer s.stop()
	sharedMu.Lock()
	shared = s
	sharedMu.Unlock()
	return m.Run()
}

// Shared returns the package's shared server when TestMain uses Main, and
// otherwise a server of the test's own.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	s := shared
	sharedMu.Unlock()
	if s == nil {
		return Start(t)
	}
	return s
}

var prefixSeq atomic.Int64

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Prefix returns a key prefix no other test in this process uses, such as
// "t7:TestQueue_ack:", so tests can share a server without seeing each
// other's keys.
func Prefix(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d:%s:", prefixSeq.Add(1), name)
}

// Signal sends sig to the server process (SIGSTOP to freeze it, SIGCONT to
// resume), for tests of slow or hung servers.
func (s *Server) Signal(sig syscall.Signal) error {
	return s.cmd.Process.Signal(sig)
}

package redis

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/heraldops/herald/internal/redistest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url      string
		mode     Mode
		addrs    []string
		db       int
		tls      bool
		user     string
		password string
		master   string
		sentPass string
		wantErr  string
	}{
		{url: "redis://localhost:6379/0", mode: ModeSingle, addrs: []string{"localhost:6379"}},
		{url: "redis://:s3cret@redis.internal:6380/2", mode: ModeSingle, addrs: []string{"redis.internal:6380"}, db: 2, password: "s3cret"},
		{url: "rediss://herald:pw@cache.example.com:6380", mode: ModeSingle, addrs: []string{"cache.example.com:6380"}, tls: true, user: "herald", password: "pw"},
		{url: "redis://h1:7000,h2:7001,h3:7002", mode: ModeCluster, addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		{url: "rediss://:pw@h1:7000,h2:7001", mode: ModeCluster, addrs: []string{"h1:7000", "h2:7001"}, tls: true, password: "pw"},
		{url: "redis://h1:7000?addr=h2:7001", mode: ModeCluster, addrs: []string{"h1:7000", "h2:7001"}},
		{url: "redis://:pw@s1:26379,s2:26379/1?master_name=mymaster", mode: ModeSentinel, addrs: []string{"s1:26379", "s2:26379"}, db: 1, password: "pw", master: "mymaster"},
		{url: "redis-sentinel://s1:26379,s2:26379/0?master_name=mymaster&sentinel_password=sp", mode: ModeSentinel, addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster", sentPass: "sp"},
		{url: "redis-sentinel://s1:26379", wantErr: "master_name"},
		{url: "redis://h1:7000,h2:7001/3", wantErr: "only database 0"},
		{url: "redis://h1:6379?sentinel_password=x", wantErr: "need ?master_name"},
		{url: "http://localhost:6379", wantErr: "unknown scheme"},
		{url: "localhost:6379", wantErr: "want redis://"},
		{url: "redis://:pw@localhost:6379/0?no_such_option=1", wantErr: "no_such_option"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), ":pw@") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if got.Mode != tt.mode {
				t.Fatalf("mode = %s, want %s", got.Mode, tt.mode)
			}
			var addrs []string
			var db int
			var user, pass string
			var hasTLS bool
			switch got.Mode {
			case ModeSingle:
				addrs, db, user, pass, hasTLS = []string{got.Single.Addr}, got.Single.DB, got.Single.Username, got.Single.Password, got.Single.TLSConfig != nil
			case ModeCluster:
				addrs, user, pass, hasTLS = got.Cluster.Addrs, got.Cluster.Username, got.Cluster.Password, got.Cluster.TLSConfig != nil
			case ModeSentinel:
				o := got.Sentinel
				addrs, db, user, pass, hasTLS = o.SentinelAddrs, o.DB, o.Username, o.Password, o.TLSConfig != nil
				if o.MasterName != tt.master {
					t.Errorf("master = %q, want %q", o.MasterName, tt.master)
				}
				if o.SentinelPassword != tt.sentPass {
					t.Errorf("sentinel password = %q, want %q", o.SentinelPassword, tt.sentPass)
				}
			}
			if strings.Join(addrs, ",") != strings.Join(tt.addrs, ",") {
				t.Errorf("addrs = %v, want %v", addrs, tt.addrs)
			}
			if db != tt.db || user != tt.user || pass != tt.password || hasTLS != tt.tls {
				t.Errorf("db/user/password/tls = %d/%q/%q/%v, want %d/%q/%q/%v", db, user, pass, hasTLS, tt.db, tt.user, tt.password, tt.tls)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@h:6379/0":                    "redis://:xxxxx@h:6379/0",
		"rediss://user:s3cret@h1:1,h2:2":              "rediss://user:xxxxx@h1:1,h2:2",
		"redis://h:6379":                              "redis://h:6379",
		"redis://s:1/0?master_name=m&password=s3cret": "redis://s:1/0?master_name=m&password=xxxxx",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenConnectsOrExplains(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Shared(t)
	c, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL(), err)
	}
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// Nothing listens on a port we just took and released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	url := "redis://" + l.Addr().String() + "/0?max_retries=-1" // fail at once
	l.Close()
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = Open(ctx2, strings.Replace(url, "redis://", "redis://:hunter2@", 1))
	if err == nil || !strings.Contains(err.Error(), "connecting to Redis") {
		t.Fatalf("Open of a dead server: err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the password: %v", err)
	}
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Mode is how herald reaches Redis.
type Mode string

const (
	ModeSingle   Mode = "single"   // one server (or a managed endpoint)
	ModeSentinel Mode = "sentinel" // a master found through Sentinels
	ModeCluster  Mode = "cluster"  // Redis Cluster
)

// Open connects to Redis as REDIS_URL says and checks it answers.
//
//	redis://[user:password@]host[:port][/db][?option=value...]
//	rediss://...                                   the same over TLS
//	redis://[user:password@]h1:6379,h2:6379,h3:6379  Redis Cluster (several hosts, no master_name)
//	redis://[user:password@]s1:26379,s2:26379/0?master_name=mymaster
//	redis-sentinel://s1:26379,s2:26379/0?master_name=mymaster   Sentinel (either form)
//
// Hosts are separated by commas; go-redis's own `addr=host:port` query
// parameter adds hosts too. With Sentinel the hosts are the Sentinels, the
// user and password authenticate to the Redis master, and the Sentinels
// themselves use `sentinel_username`/`sentinel_password` when they need
// credentials. Any other go-redis option may be given as a query parameter
// in snake case (dial_timeout=3s, pool_size=50, skip_verify=true...).
// Cluster has only database 0.
func Open(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	c := t.NewClient()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connecting to Redis at %s (%s): %w", Redact(rawURL), t.Mode, err)
	}
	return c, nil
}

// Target is a parsed REDIS_URL: the deployment kind and go-redis's own
// options for it (exactly one of Single, Cluster, Sentinel is set). Keeping
// go-redis's types, rather than copying into UniversalOptions, loses no
// option the URL set.
type Target struct {
	Mode     Mode
	Single   *goredis.Options
	Cluster  *goredis.ClusterOptions
	Sentinel *goredis.FailoverOptions
}

// NewClient makes the client for the target without contacting Redis.
func (t Target) NewClient() goredis.UniversalClient {
	switch t.Mode {
	case ModeCluster:
		return goredis.NewClusterClient(t.Cluster)
	case ModeSentinel:
		return goredis.NewFailoverClient(t.Sentinel)
	default:
		return goredis.NewClient(t.Single)
	}
}

// ParseURL turns REDIS_URL into go-redis options and says which kind of
// deployment it names (see Open for the forms).
func ParseURL(rawURL string) (Target, error) {
	fail := func(err error) (Target, error) {
		return Target{}, fmt.Errorf("REDIS_URL %s: %w", Redact(rawURL), err)
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(rawURL), "://")
	if !ok {
		return fail(errors.New("want redis://host:port, rediss://, or redis-sentinel://"))
	}
	sentinelScheme := false
	switch scheme {
	case "redis", "rediss":
	case "redis-sentinel", "rediss-sentinel":
		sentinelScheme = true
		scheme = strings.TrimSuffix(scheme, "-sentinel")
	case "unix":
		o, err := goredis.ParseURL(rawURL)
		if err != nil {
			return fail(err)
		}
		return Target{Mode: ModeSingle, Single: o}, nil
	default:
		return fail(fmt.Errorf("unknown scheme %q: want redis, rediss or redis-sentinel", scheme))
	}

	// The authority may list several hosts, which net/url cannot parse:
	// split it off by hand and give go-redis one host plus addr= parameters.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostlist := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	var hosts []string
	for _, h := range strings.Split(hostlist, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return fail(errors.New("no host"))
	}
	u, err := url.Parse(scheme + "://" + userinfo + hosts[0] + tail)
	if err != nil {
		return fail(err)
	}
	q := u.Query()
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	masterName := q.Get("master_name")
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")

	switch {
	case sentinelScheme || masterName != "":
		if masterName == "" {
			return fail(errors.New("Sentinel needs ?master_name=<name>"))
		}
		user, pass := "", ""
		if u.User != nil {
			user = u.User.Username()
			pass, _ = u.User.Password()
			u.User = nil // go-redis would give these to the Sentinels
		}
		u.RawQuery = q.Encode()
		fo, err := goredis.ParseFailoverURL(u.String())
		if err != nil {
			return fail(err)
		}
		if user != "" || pass != "" {
			fo.Username, fo.Password = user, pass
		}
		fo.SentinelUsername, fo.SentinelPassword = sentinelUser, sentinelPass
		return Target{Mode: ModeSentinel, Sentinel: fo}, nil

	case len(q["addr"]) > 0:
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return fail(fmt.Errorf("Redis Cluster has only database 0, not %s", db))
		}
		u.Path = ""
		u.RawQuery = q.Encode()
		co, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return fail(err)
		}
		return Target{Mode: ModeCluster, Cluster: co}, nil

	default:
		if sentinelUser != "" || sentinelPass != "" {
			return fail(errors.New("sentinel_username/sentinel_password need ?master_name="))
		}
		u.RawQuery = q.Encode()
		o, err := goredis.ParseURL(u.String())
		if err != nil {
			return fail(err)
		}
		return Target{Mode: ModeSingle, Single: o}, nil
	}
}

// Redact hides the password in a REDIS_URL so it can be logged.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "(unparseable URL)"
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		user, _, hasPass := strings.Cut(authority[:i], ":")
		if hasPass {
			authority = user + ":xxxxx" + authority[i:]
		}
	}
	if strings.Contains(tail, "password=") {
		if base, query, ok := strings.Cut(tail, "?"); ok {
			q, err := url.ParseQuery(query)
			if err == nil {
				for k := range q {
					if strings.Contains(k, "password") {
						q.Set(k, "xxxxx")
					}
				}
				tail = base + "?" + q.Encode()
			}
		}
	}
	return scheme + "://" + authority + tail
}

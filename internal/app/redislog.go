package app

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// redisLogger sends go-redis's own chatter (connection retries) to our
// logger at debug level instead of raw lines on stderr; herald reports the
// errors that matter itself.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.Debug().Str("component", "go-redis").Msg(fmt.Sprintf(format, v...))
	}
}

// go-redis's logger is one process-wide variable: it is installed once and
// reads the logger last routed here, so that several herald replicas in one
// process (the end-to-end tests) do not write the variable concurrently.
var (
	redisLog        atomic.Pointer[zerolog.Logger]
	redisLogInstall sync.Once
)

func routeRedisLogs(log zerolog.Logger) {
	redisLog.Store(&log)
	redisLogInstall.Do(func() { goredis.SetLogger(redisLogger{}) })
}

package app

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// redisLogger sends go-redis's own chatter (connection retries) to our
// logger at debug level instead of raw lines on stderr; herald reports the
// errors that matter itself.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Str("component", "go-redis").Msg(fmt.Sprintf(format, v...))
}

func routeRedisLogs(log zerolog.Logger) { goredis.SetLogger(redisLogger{log: log}) }

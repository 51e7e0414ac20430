package relay

import (
	"time"

	"github.com/heraldops/herald/bot"
)

// Defaults for the per-sender rates, from Twilio's published limits: a
// non-US long code sends 10 messages per second (US 10DLC 1, toll-free 3,
// short code 100); a WhatsApp Business sender on Meta's Cloud API sends 80
// text messages per second (older Twilio senders start at 10). Twilio queues
// what comes faster, but a queue that grows past its limit rejects messages,
// so herald paces itself instead. internal/config sets the same defaults.
const (
	DefaultSMSPerSecond      = 10
	DefaultWhatsAppPerSecond = 80
)

// Settings tunes the relay.
type Settings struct {
	// SMSPerSecond and WhatsAppPerSecond are each sender's rate, shared by
	// all replicas through the RateLimiter. 0: the default above; negative:
	// no limit (benchmarks, a Twilio account that queues for you).
	SMSPerSecond      float64
	WhatsAppPerSecond float64
	// Burst is how many tokens a sender's bucket may save up (default 1:
	// messages evenly spaced).
	Burst int
	// GiveUpAfter is how long after its start an update is still current:
	// until then temporary refusals (429, 5xx, no answer) are retried, never
	// counted as failures; after it a delivery still refused fails (default
	// 30m). The progress message shows the time while the relay lasts.
	GiveUpAfter time.Duration
	// DeferAfter is the shortest retry wait that goes back to the queue
	// with its due time rather than being slept out in a worker slot
	// (default 200ms; shorter waits are not worth the round trip).
	DeferAfter time.Duration
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter between those tries (defaults 500ms and 30s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// SendTimeout bounds one provider call (default 30s). A delivery found in
	// "sending" for longer than that is presumed abandoned by a dead worker
	// and reconciled; younger ones are left to the worker that is sending.
	SendTimeout time.Duration
	// ContactTTL is how long replies from a messaged phone still find the
	// incident (default 72h).
	ContactTTL time.Duration
	// Topic is the queue topic of relay jobs (default "relay").
	Topic string
	// ProgressEvery is the least time between two edits of a broadcast's
	// progress message, across all replicas (default 1s).
	ProgressEvery time.Duration
	// Batch is how many deliveries are saved or enqueued per round trip when
	// a broadcast starts (default 2000).
	Batch int
	// RestartAfter and ResumeAfter are Sweep's grace periods: how long a
	// broadcast may stay approved without being started (default 30s), and
	// stay sending without all its jobs queued (default 2m), before Sweep
	// takes it for abandoned and starts it again.
	RestartAfter time.Duration
	ResumeAfter  time.Duration
}

func (s Settings) rate(ch bot.Channel) float64 {
	r, def := s.SMSPerSecond, float64(DefaultSMSPerSecond)
	if ch == bot.ChannelWhatsApp {
		r, def = s.WhatsAppPerSecond, DefaultWhatsAppPerSecond
	}
	if r == 0 {
		return def
	}
	return r
}

func (s Settings) burst() int { return orInt(s.Burst, 1) }

func (s Settings) giveUpAfter() time.Duration { return orDur(s.GiveUpAfter, 30*time.Minute) }

func (s Settings) deferAfter() time.Duration { return orDur(s.DeferAfter, 200*time.Millisecond) }

func (s Settings) topic() string { return orStr(s.Topic, "relay") }

func (s Settings) batch() int { return orInt(s.Batch, 2000) }

func (s Settings) sendTimeout() time.Duration {
	return orDur(s.SendTimeout, 30*time.Second)
}

func (s Settings) contactTTL() time.Duration { return orDur(s.ContactTTL, 72*time.Hour) }

func (s Settings) progressEvery() time.Duration { return orDur(s.ProgressEvery, time.Second) }

func (s Settings) backoff() bot.Backoff {
	return bot.Backoff{Base: s.BaseBackoff, Max: s.MaxBackoff}
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orStr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

package app

import (
	"context"
	"math/rand/v2"
	"time"

	slackadapter "github.com/heraldops/herald/adapters/slack"
)

// herald learns whether chat works from the calls it makes. When an incident
// is quiet it makes none, and a Slack outage would go unnoticed until the
// first post failed; so watchChat probes (auth.test, cheap) whenever no call
// has had an answer for a while, and keeps probing with backoff while chat
// is down, until it answers again.

// chatTimings are the watch's intervals, all derived from
// failover.down_after so that an outage is noticed within about down_after
// plus one probe, whatever down_after is set to.
type chatTimings struct {
	idleProbe   time.Duration // probe while up when no call answered for this long
	retry       time.Duration // probe again this soon after a failed probe while up
	timeout     time.Duration // one probe's limit: a hanging chat counts as failing
	downBackoff time.Duration // longest wait between probes while down (10 s at most: replays start promptly)
	housekeep   time.Duration // the housekeeping tick (forced mode, digests, expiry)
}

func timingsFor(downAfter time.Duration) chatTimings {
	if downAfter <= 0 {
		downAfter = 30 * time.Second
	}
	idle := clamp(downAfter/3, 250*time.Millisecond, 10*time.Second)
	return chatTimings{
		idleProbe:   idle,
		retry:       idle / 4,
		timeout:     clamp(idle, 250*time.Millisecond, 5*time.Second),
		downBackoff: clamp(2*downAfter, 2*time.Second, maxDownBackoff),
		housekeep:   clamp(downAfter/4, 250*time.Millisecond, 5*time.Second),
	}
}

func clamp(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

// maxDownBackoff caps the wait between probes while chat is down: what was
// held during the outage is replayed only once a probe sees chat back, so
// a long backoff (it used to reach a minute) delays every held reply.
const maxDownBackoff = 10 * time.Second

// jittered spreads a wait over [3/4, 1] of itself, so replicas that saw the
// outage together do not probe together; it never lengthens the wait.
func jittered(d time.Duration, rnd func() float64) time.Duration {
	return d - time.Duration(float64(d/4)*rnd())
}

// chatResult records one chat call's outcome for the health tracker and
// for the idle probe.
func (h *herald) chatResult(ok bool) {
	h.lastChatResult.Store(time.Now().UnixNano())
	h.health.Observe(ok)
}

// watchChat probes the chat platform while it is idle or down; see above.
// A forced mode (herald failover on) suspends it: the operator decides.
func (h *herald) watchChat(ctx context.Context) error {
	tm := h.timings
	wait := tm.idleProbe
	downWait := min(tm.idleProbe, time.Second)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		switch {
		case h.health.Forced():
			wait = tm.idleProbe
		case h.health.Up():
			idle := time.Since(time.Unix(0, h.lastChatResult.Load()))
			if idle < tm.idleProbe {
				wait = tm.idleProbe - idle
				continue
			}
			ok := h.probe(ctx, tm.timeout) == nil
			h.chatResult(ok)
			wait = tm.idleProbe
			if !ok {
				wait = tm.retry
			}
			downWait = min(tm.idleProbe, time.Second)
		default:
			ok := h.probe(ctx, tm.timeout) == nil
			h.chatResult(ok)
			if ok {
				// Recovery needs several answers in a row: ask again soon.
				downWait = min(tm.idleProbe, time.Second)
			} else {
				downWait = min(downWait*2, tm.downBackoff)
			}
			wait = jittered(downWait, rand.Float64)
		}
	}
}

// probe asks the chat platform whether it answers (Slack: auth.test).
func (h *herald) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if h.slackAPI == nil {
		return h.teamsH.Ready(ctx)
	}
	_, err := h.slackAPI.AuthTestContext(ctx)
	if err != nil && !slackadapter.Trouble(err) {
		return nil // an answer, even a refusal, means Slack is reachable
	}
	return err
}

package bottest

import (
	"context"
	"fmt"
	"sync"

	"github.com/heraldops/herald/bot"
)

// Messenger is a bot.Messenger that accepts every message and remembers it.
type Messenger struct {
	mu   sync.Mutex
	sent []bot.Outbound
}

var _ bot.Messenger = (*Messenger)(nil)

// Send records o and answers with a fresh SID, as a provider that queued it.
func (m *Messenger) Send(_ context.Context, o bot.Outbound) (bot.SendResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, o)
	return bot.SendResult{SID: fmt.Sprintf("SM%032d", len(m.sent)), Status: bot.DeliveryQueued}, nil
}

// SenderKey is one rate bucket per channel.
func (m *Messenger) SenderKey(ch bot.Channel) string { return string(ch) }

// Sent returns every message sent so far, oldest first.
func (m *Messenger) Sent() []bot.Outbound {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]bot.Outbound(nil), m.sent...)
}

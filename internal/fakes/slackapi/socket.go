package slackapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Envelope is one Socket Mode message Slack sends to the app.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"` // slash_commands, interactive, events_api
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt,omitempty"`
	RetryReason            string          `json:"retry_reason,omitempty"`
}

// Ack is the app's acknowledgement of an envelope, with the response payload
// it carried (an ephemeral message, a view_submission response_action).
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack carried none
	At         time.Time
}

// socketState is the Socket Mode side of the fake: the connected client (one
// at a time, like a single app connection) and the acks it sent.
type socketState struct {
	mu      sync.Mutex
	conn    *websocket.Conn
	writeMu sync.Mutex // gorilla/websocket allows one writer at a time
	conns   int
	acks    []Ack
	changed chan struct{}
	done    chan struct{}
}

func newSocketState() *socketState {
	return &socketState{changed: make(chan struct{}), done: make(chan struct{})}
}

func (st *socketState) notifyLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

func (st *socketState) closeAll() {
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.done:
	default:
		close(st.done)
	}
	if st.conn != nil {
		_ = st.conn.Close()
		st.conn = nil
	}
}

// serveSocket is the websocket Slack hands out from apps.connections.open:
// it greets with hello, pings, and records acks.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	st := s.socket
	hello := map[string]any{
		"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": DefaultAppID},
		"debug_info":      map[string]any{"host": "fake-slack", "approximate_connection_time": 18060},
	}
	st.writeMu.Lock()
	err = conn.WriteJSON(hello)
	st.writeMu.Unlock()
	if err != nil {
		_ = conn.Close()
		return
	}
	st.mu.Lock()
	if st.conn != nil {
		_ = st.conn.Close() // a reconnecting client replaces the old connection
	}
	st.conn = conn
	st.conns++
	st.notifyLocked()
	st.mu.Unlock()

	stopPing := make(chan struct{})
	go func() {
		t := time.NewTicker(s.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)) != nil {
					return
				}
			case <-stopPing:
				return
			case <-st.done:
				return
			}
		}
	}()
	defer close(stopPing)

	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			st.mu.Lock()
			if st.conn == conn {
				st.conn = nil
			}
			st.notifyLocked()
			st.mu.Unlock()
			_ = conn.Close()
			return
		}
		if string(ack.Payload) == "null" {
			ack.Payload = nil
		}
		st.mu.Lock()
		st.acks = append(st.acks, Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload, At: time.Now()})
		st.notifyLocked()
		st.mu.Unlock()
	}
}

// waitSocket re-evaluates done (with st.mu held) on every change.
func (st *socketState) wait(ctx context.Context, done func() bool) error {
	for {
		st.mu.Lock()
		ok := done()
		ch := st.changed
		st.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for Socket Mode: %w", ctx.Err())
		}
	}
}

// SocketConnected waits until a Socket Mode client is connected (and has
// been sent hello).
func (s *Server) SocketConnected(ctx context.Context) error {
	return s.socket.wait(ctx, func() bool { return s.socket.conn != nil })
}

// SocketConnections counts the websocket connections made so far.
func (s *Server) SocketConnections() int {
	s.socket.mu.Lock()
	defer s.socket.mu.Unlock()
	return s.socket.conns
}

// Push sends an envelope to the connected client (waiting for one to
// connect) and returns its envelope id (one is made up when empty).
func (s *Server) Push(ctx context.Context, env Envelope) (string, error) {
	if env.EnvelopeID == "" {
		s.mu.Lock()
		env.EnvelopeID = s.nextIDLocked("env-")
		s.mu.Unlock()
	}
	frame, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("encoding envelope: %w", err)
	}
	return env.EnvelopeID, s.PushRaw(ctx, frame)
}

// PushRaw sends one websocket frame as it is (a fixture file, say).
func (s *Server) PushRaw(ctx context.Context, frame []byte) error {
	if err := s.SocketConnected(ctx); err != nil {
		return err
	}
	st := s.socket
	st.mu.Lock()
	conn := st.conn
	st.mu.Unlock()
	if conn == nil {
		return errors.New("socket mode client disconnected")
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		return fmt.Errorf("writing socket mode frame: %w", err)
	}
	return nil
}

// WaitAck waits for the client's ack of an envelope.
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (Ack, error) {
	var found Ack
	err := s.socket.wait(ctx, func() bool {
		for _, a := range s.socket.acks {
			if a.EnvelopeID == envelopeID {
				found = a
				return true
			}
		}
		return false
	})
	return found, err
}

// Acks returns every ack received, in order.
func (s *Server) Acks() []Ack {
	s.socket.mu.Lock()
	defer s.socket.mu.Unlock()
	return append([]Ack(nil), s.socket.acks...)
}

package slackapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// request is one parsed Web API call.
type request struct {
	method string
	params url.Values
	json   map[string]json.RawMessage
	token  string
}

// answer is what a method handler wants sent back.
type answer struct {
	status     int
	body       map[string]any
	retryAfter time.Duration
	html       bool // a 5xx HTML page, as Slack's edge sends
}

func okAnswer(fields map[string]any) answer {
	body := map[string]any{"ok": true}
	for k, v := range fields {
		body[k] = v
	}
	return answer{status: http.StatusOK, body: body}
}

func errAnswer(code string) answer {
	return answer{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.Trim(r.URL.Path, "/")
	method = strings.TrimPrefix(method, "api/") // slack.com/api/ layout works too
	req, err := parseRequest(method, r)
	if err != nil {
		s.record(Call{Method: method, Status: http.StatusBadRequest, Error: "invalid_form_data", At: time.Now()})
		writeAnswer(w, answer{status: http.StatusBadRequest, body: map[string]any{"ok": false, "error": "invalid_form_data"}})
		return
	}

	if wait := s.currentOutage(); wait != nil {
		s.serveOutage(w, r, req, wait)
		return
	}

	a := s.dispatch(req)
	call := Call{Method: method, Params: req.params, JSON: req.json, Status: a.status, At: time.Now()}
	if e, ok := a.body["error"].(string); ok {
		call.Error = e
	}
	if a.status == http.StatusTooManyRequests {
		call.Error = "ratelimited"
	}
	call.Blocks = parseBlocks(req.params.Get("blocks"))
	if v := req.params.Get("view"); v != "" {
		var mv slack.ModalViewRequest
		if json.Unmarshal([]byte(v), &mv) == nil {
			call.View = &mv
		}
	}
	s.record(call)
	writeAnswer(w, a)
}

// currentOutage returns the channel that closes when the outage ends, or nil
// when the API is up. The outage mode is read with it.
func (s *Server) currentOutage() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outage == OutageNone {
		return nil
	}
	return s.outageEnd
}

func (s *Server) serveOutage(w http.ResponseWriter, r *http.Request, req request, end chan struct{}) {
	s.mu.Lock()
	mode := s.outage
	s.mu.Unlock()
	call := Call{Method: req.method, Params: req.params, JSON: req.json, At: time.Now()}
	if mode == OutageHang {
		select {
		case <-end:
		case <-r.Context().Done():
		}
		call.Status, call.Error = 0, "timeout"
		s.record(call)
		// The client has usually gone; if the outage ended first, still fail
		// this request: it was sent while Slack was down.
		w.WriteHeader(http.StatusGatewayTimeout)
		return
	}
	call.Status, call.Error = http.StatusServiceUnavailable, "service_unavailable"
	s.record(call)
	writeAnswer(w, answer{status: http.StatusServiceUnavailable, html: true})
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
}

func writeAnswer(w http.ResponseWriter, a answer) {
	if a.retryAfter > 0 {
		secs := int(math.Ceil(a.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	if a.html {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, "<html><body><h1>Slack is having trouble</h1></body></html>")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body)
}

func parseRequest(method string, r *http.Request) (request, error) {
	req := request{method: method, params: url.Values{}}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return req, fmt.Errorf("reading body: %w", err)
	}
	for k, vs := range r.URL.Query() {
		req.params[k] = append(req.params[k], vs...)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &req.json); err != nil {
				return req, fmt.Errorf("parsing JSON body: %w", err)
			}
		} else {
			req.json = map[string]json.RawMessage{}
		}
		for k, raw := range req.json {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				req.params.Set(k, str)
			} else {
				req.params.Set(k, string(raw))
			}
		}
	case len(body) > 0:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, fmt.Errorf("parsing form body: %w", err)
		}
		for k, vs := range form {
			req.params[k] = append(req.params[k], vs...)
		}
	}
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		req.token = auth
	} else {
		req.token = req.params.Get("token")
	}
	return req, nil
}

func parseBlocks(raw string) []slack.Block {
	if raw == "" {
		return nil
	}
	var bs slack.Blocks
	if json.Unmarshal([]byte(raw), &bs) != nil {
		return nil
	}
	return bs.BlockSet
}

// dispatch checks the token and the injected failures, then runs the method.
func (s *Server) dispatch(req request) answer {
	s.mu.Lock()
	defer s.mu.Unlock()

	want := s.BotToken
	if req.method == "apps.connections.open" {
		want = s.AppToken
	}
	switch {
	case req.token == "":
		return errAnswer("not_authed")
	case req.token != want:
		return errAnswer("invalid_auth")
	}
	if q := s.limitNext[req.method]; len(q) > 0 {
		s.limitNext[req.method] = q[1:]
		return answer{status: http.StatusTooManyRequests, body: map[string]any{"ok": false, "error": "ratelimited"}, retryAfter: q[0]}
	}
	if q := s.failNext[req.method]; len(q) > 0 {
		s.failNext[req.method] = q[1:]
		return errAnswer(q[0])
	}

	switch req.method {
	case "chat.postMessage":
		return s.postMessage(req)
	case "chat.update":
		return s.update(req)
	case "chat.postEphemeral":
		return s.postEphemeral(req)
	case "views.open", "views.push":
		return s.openView(req)
	case "views.update":
		return s.updateView(req)
	case "users.info":
		return s.userInfo(req)
	case "auth.test":
		return okAnswer(map[string]any{
			"url": "https://fake.slack.com/", "team": "Fake Workspace", "user": "herald",
			"team_id": s.TeamID, "user_id": s.BotUserID, "bot_id": DefaultBotID,
		})
	case "conversations.members":
		return s.members(req)
	case "conversations.info":
		return s.conversationInfo(req)
	case "apps.connections.open":
		return okAnswer(map[string]any{"url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket-mode/link?ticket=" + s.nextIDLocked("")})
	}
	return errAnswer("unknown_method")
}

var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// channelLocked finds a channel, creating it on first use unless channels
// are strict. It returns an error code when the bot cannot post there.
func (s *Server) channelLocked(id string, posting bool) (*Channel, string) {
	ch, ok := s.channels[id]
	if !ok {
		if s.strictChannels || !channelIDPattern.MatchString(id) {
			return nil, "channel_not_found"
		}
		ch = &Channel{ID: id, Name: strings.ToLower(id)}
		s.channels[id] = ch
	}
	if posting && ch.NotInChannel {
		return ch, "not_in_channel"
	}
	return ch, ""
}

// nextTSLocked hands out increasing Slack timestamps: 1700000000.000100, ...
func (s *Server) nextTSLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+s.seq/10000, (s.seq%10000)*100)
}

func (s *Server) nextIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%08d", prefix, s.seq)
}

func (s *Server) postMessage(req request) answer {
	chID := req.params.Get("channel")
	ch, code := s.channelLocked(chID, true)
	if code != "" {
		return errAnswer(code)
	}
	text, blocks := req.params.Get("text"), req.params.Get("blocks")
	if text == "" && blocks == "" {
		return errAnswer("no_text")
	}
	if wait := s.takeTokenLocked("post:" + ch.ID); wait > 0 {
		s.rateLimited++
		return answer{status: http.StatusTooManyRequests, body: map[string]any{"ok": false, "error": "ratelimited"}, retryAfter: wait}
	}
	m := &Message{Channel: ch.ID, TS: s.nextTSLocked(), ThreadTS: req.params.Get("thread_ts"), Text: text, RawBlocks: blocks, Blocks: parseBlocks(blocks)}
	s.messages[ch.ID] = append(s.messages[ch.ID], m)
	return okAnswer(map[string]any{"channel": ch.ID, "ts": m.TS, "message": s.messageJSON(m)})
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type": "message", "subtype": "bot_message", "text": m.Text, "ts": m.TS,
		"user": s.BotUserID, "bot_id": DefaultBotID, "app_id": DefaultAppID, "team": s.TeamID,
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.RawBlocks != "" {
		out["blocks"] = json.RawMessage(m.RawBlocks)
	}
	return out
}

func (s *Server) update(req request) answer {
	chID, ts := req.params.Get("channel"), req.params.Get("ts")
	ch, code := s.channelLocked(chID, true)
	if code != "" {
		return errAnswer(code)
	}
	for _, m := range s.messages[ch.ID] {
		if m.TS != ts {
			continue
		}
		if req.params.Has("text") {
			m.Text = req.params.Get("text")
		}
		if req.params.Has("blocks") {
			m.RawBlocks = req.params.Get("blocks")
			m.Blocks = parseBlocks(m.RawBlocks)
		}
		m.Edits++
		return okAnswer(map[string]any{"channel": ch.ID, "ts": ts, "text": m.Text, "message": s.messageJSON(m)})
	}
	return errAnswer("message_not_found")
}

func (s *Server) postEphemeral(req request) answer {
	ch, code := s.channelLocked(req.params.Get("channel"), true)
	if code != "" {
		return errAnswer(code)
	}
	user := req.params.Get("user")
	if user == "" {
		return errAnswer("user_not_in_channel")
	}
	text, blocks := req.params.Get("text"), req.params.Get("blocks")
	if text == "" && blocks == "" {
		return errAnswer("no_text")
	}
	m := Message{Channel: ch.ID, TS: s.nextTSLocked(), ThreadTS: req.params.Get("thread_ts"), Text: text, RawBlocks: blocks, Blocks: parseBlocks(blocks), User: user}
	s.ephemerals = append(s.ephemerals, m)
	return okAnswer(map[string]any{"message_ts": m.TS})
}

func (s *Server) openView(req request) answer {
	trigger := req.params.Get("trigger_id")
	if trigger == "" {
		return errAnswer("invalid_arguments")
	}
	if s.expired[trigger] {
		return errAnswer("expired_trigger_id")
	}
	raw, ok := req.json["view"]
	if !ok {
		return errAnswer("invalid_arguments")
	}
	v := &View{ID: s.nextIDLocked("V"), TriggerID: trigger, Raw: raw}
	if err := json.Unmarshal(raw, &v.Request); err != nil {
		return errAnswer("invalid_arguments")
	}
	v.Hash = s.nextHashLocked()
	s.views[v.ID] = v
	s.viewOrder = append(s.viewOrder, v.ID)
	if req.method == "views.open" {
		s.opened = append(s.opened, *v)
	}
	return okAnswer(map[string]any{"view": s.viewJSON(v)})
}

func (s *Server) updateView(req request) answer {
	id := req.params.Get("view_id")
	var v *View
	if id != "" {
		v = s.views[id]
	} else if ext := req.params.Get("external_id"); ext != "" {
		for _, cand := range s.views {
			if cand.Request.ExternalID == ext {
				v = cand
			}
		}
	} else {
		return errAnswer("invalid_arguments")
	}
	if v == nil {
		return errAnswer("not_found")
	}
	if h := req.params.Get("hash"); h != "" && h != v.Hash {
		return errAnswer("hash_conflict")
	}
	raw, ok := req.json["view"]
	if !ok {
		return errAnswer("invalid_arguments")
	}
	var mv slack.ModalViewRequest
	if err := json.Unmarshal(raw, &mv); err != nil {
		return errAnswer("invalid_arguments")
	}
	v.Request, v.Raw, v.Hash = mv, raw, s.nextHashLocked()
	return okAnswer(map[string]any{"view": s.viewJSON(v)})
}

func (s *Server) nextHashLocked() string {
	s.seq++
	return fmt.Sprintf("%d.fakehash%d", 1700000000+s.seq, s.seq)
}

func (s *Server) viewJSON(v *View) map[string]any {
	out := map[string]any{}
	_ = json.Unmarshal(v.Raw, &out)
	out["id"] = v.ID
	out["team_id"] = s.TeamID
	out["hash"] = v.Hash
	out["app_id"] = DefaultAppID
	out["bot_id"] = DefaultBotID
	out["root_view_id"] = v.ID
	out["state"] = map[string]any{"values": map[string]any{}}
	return out
}

func (s *Server) userInfo(req request) answer {
	u, ok := s.users[req.params.Get("user")]
	if !ok {
		return errAnswer("user_not_found")
	}
	return okAnswer(map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": s.TeamID, "name": u.Name, "real_name": u.RealName, "deleted": u.Deleted,
		"tz": u.TZ, "is_bot": u.IsBot,
		"profile": map[string]any{
			"real_name": u.RealName, "display_name": u.Name, "phone": u.Phone, "email": u.Email,
		},
	}})
}

func (s *Server) members(req request) answer {
	ch, code := s.channelLocked(req.params.Get("channel"), false)
	if code != "" {
		return errAnswer(code)
	}
	limit := 100
	if l, err := strconv.Atoi(req.params.Get("limit")); err == nil && l > 0 {
		limit = l
	}
	offset := 0
	if c := req.params.Get("cursor"); c != "" {
		dec, err := base64.StdEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(dec), "offset:"))
		if err != nil || err2 != nil || n < 0 || n > len(ch.Members) {
			return errAnswer("invalid_cursor")
		}
		offset = n
	}
	end := min(offset+limit, len(ch.Members))
	next := ""
	if end < len(ch.Members) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return okAnswer(map[string]any{
		"members":           append([]string{}, ch.Members[offset:end]...),
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

func (s *Server) conversationInfo(req request) answer {
	ch, code := s.channelLocked(req.params.Get("channel"), false)
	if code != "" {
		return errAnswer(code)
	}
	return okAnswer(map[string]any{"channel": map[string]any{
		"id": ch.ID, "name": ch.Name, "is_channel": !ch.Private, "is_group": ch.Private,
		"is_private": ch.Private, "is_member": !ch.NotInChannel, "num_members": len(ch.Members),
	}})
}

// bucket is a token bucket for the per-channel posting rate.
type bucket struct {
	tokens float64
	at     time.Time
}

// takeTokenLocked takes a token from key's bucket, or says how long until
// one is free (0: taken).
func (s *Server) takeTokenLocked(key string) time.Duration {
	if s.rate <= 0 {
		return 0
	}
	now := time.Now()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(s.burst), at: now}
		s.buckets[key] = b
	}
	b.tokens = math.Min(float64(s.burst), b.tokens+now.Sub(b.at).Seconds()*s.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / s.rate * float64(time.Second))
}

package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heraldops/herald/internal/fakes/slackapi"
)

// What the page does in the Slack-like channel becomes the request Slack
// would send herald: a slash command form, or an interaction payload in the
// shape of the real ones (fixtures block_actions.json, view_submission.json),
// signed with the signing secret.

const teamID = "T0DEMO0001"

var triggerSeq atomic.Int64

// newTrigger makes a trigger_id for an action by user and remembers whose it
// is, so the modal herald opens with it is drawn for that user.
func (c *Console) newTrigger(user string) string {
	id := fmt.Sprintf("%d.%d.%016x", time.Now().Unix(), 738474920, triggerSeq.Add(1))
	c.mu.Lock()
	c.triggers[id] = user
	c.mu.Unlock()
	return id
}

// CommandRequest is a slash command typed in the composer.
type CommandRequest struct {
	User string `json:"user"`
	Text string `json:"text"` // "/incident new Checkout failing --sev 2", or without "/incident"
}

func (c *Console) command(ctx context.Context, in CommandRequest) (any, error) {
	u, err := c.user(in.User)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(in.Text)
	if rest, ok := strings.CutPrefix(text, "/incident"); ok {
		text = strings.TrimSpace(rest)
	} else if strings.HasPrefix(text, "/") {
		return nil, badRequest("only /incident is installed in this workspace")
	}
	channel := c.o.Config.Slack.IncidentChannel
	form := url.Values{
		"token": {"unused-verification-token"}, "team_id": {teamID}, "team_domain": {"herald-demo"},
		"channel_id": {channel}, "channel_name": {"incidents"}, "user_id": {u.ID}, "user_name": {u.Handle},
		"command": {"/incident"}, "text": {text}, "api_app_id": {slackapi.DefaultAppID},
		"response_url": {c.o.Slack.URL() + "/commands/" + teamID + "/" + strconv.FormatInt(triggerSeq.Load(), 10)},
		"trigger_id":   {c.newTrigger(u.ID)},
	}
	req := c.signer.SlashCommand(c.o.HeraldURL+"/slack/commands", []byte(form.Encode()))
	code, body, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("herald answered the slash command with HTTP %d: %s", code, body)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		c.keepAnswer(u.ID, body)
	}
	c.changed()
	return map[string]any{"ok": true}, nil
}

// keepAnswer shows a slash command's immediate answer to its typist, after
// the channel's latest message, as Slack does.
func (c *Console) keepAnswer(user string, body []byte) {
	var msg struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if json.Unmarshal(body, &msg) != nil {
		msg.Text = string(body)
	}
	last := "0"
	if posts := c.o.Slack.Posts(c.o.Config.Slack.IncidentChannel); len(posts) > 0 {
		last = posts[len(posts)-1].TS
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A ts just after the latest message's: the answer sorts below it and
	// above anything posted later.
	ts := last + strconv.Itoa(len(c.local)+1)
	c.local = append(c.local, Ephemeral{User: user, TS: ts, Text: msg.Text, Blocks: msg.Blocks, At: time.Now().UnixMilli()})
}

// ActionRequest is a click on a button of one of herald's messages.
type ActionRequest struct {
	User     string `json:"user"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ActionID string `json:"actionId"`
	BlockID  string `json:"blockId"`
	Value    string `json:"value"`
	Text     string `json:"text"`
}

func (c *Console) messageAction(ctx context.Context, in ActionRequest) (any, error) {
	u, err := c.user(in.User)
	if err != nil {
		return nil, err
	}
	m, err := fixture("block_actions.json")
	if err != nil {
		return nil, err
	}
	channel := cmpOr(in.Channel, c.o.Config.Slack.IncidentChannel)
	m["user"] = slackUser(u)
	m["team"] = map[string]any{"id": teamID, "domain": "herald-demo"}
	m["trigger_id"] = c.newTrigger(u.ID)
	m["channel"] = map[string]any{"id": channel, "name": "incidents"}
	m["container"] = map[string]any{"type": "message", "message_ts": in.TS, "channel_id": channel, "is_ephemeral": false}
	msg, _ := m["message"].(map[string]any)
	if msg == nil {
		msg = map[string]any{}
		m["message"] = msg
	}
	msg["ts"] = in.TS
	if posted, ok := c.o.Slack.Message(channel, in.TS); ok {
		msg["text"] = posted.Text
		if posted.RawBlocks != "" {
			msg["blocks"] = json.RawMessage(posted.RawBlocks)
		}
		if posted.ThreadTS != "" {
			msg["thread_ts"] = posted.ThreadTS
		}
	}
	m["actions"] = []any{map[string]any{
		"action_id": in.ActionID, "block_id": in.BlockID, "value": in.Value, "type": "button",
		"text":      map[string]any{"type": "plain_text", "text": cmpOr(in.Text, in.ActionID)},
		"action_ts": actionTS(),
	}}
	_, err = c.interact(ctx, m)
	return nil, err
}

// ViewActionRequest is a change in a modal that herald listens to (a select
// with dispatch_action, a button in the modal).
type ViewActionRequest struct {
	ViewID string                    `json:"viewId"`
	Action map[string]any            `json:"action"` // action_id, block_id, type, and the value or selection
	State  map[string]map[string]any `json:"state"`  // state.values as Slack sends it
}

func (c *Console) viewAction(ctx context.Context, in ViewActionRequest) (any, error) {
	top, v, err := c.topView(in.ViewID)
	if err != nil {
		return nil, err
	}
	u, err := c.user(top.User)
	if err != nil {
		return nil, err
	}
	m, err := fixture("block_actions.json")
	if err != nil {
		return nil, err
	}
	delete(m, "channel")
	delete(m, "message")
	m["user"] = slackUser(u)
	m["team"] = map[string]any{"id": teamID, "domain": "herald-demo"}
	m["trigger_id"] = c.newTrigger(u.ID)
	m["container"] = map[string]any{"type": "view", "view_id": v.ID}
	m["view"] = viewWithState(v, in.State)
	action := map[string]any{"action_ts": actionTS()}
	for k, val := range in.Action {
		action[k] = val
	}
	m["actions"] = []any{action}
	_, err = c.interact(ctx, m)
	return nil, err
}

// SubmitRequest is the modal's submit button.
type SubmitRequest struct {
	ViewID string                    `json:"viewId"`
	State  map[string]map[string]any `json:"state"`
}

func (c *Console) viewSubmit(ctx context.Context, in SubmitRequest) (any, error) {
	top, v, err := c.topView(in.ViewID)
	if err != nil {
		return nil, err
	}
	u, err := c.user(top.User)
	if err != nil {
		return nil, err
	}
	m, err := fixture("view_submission.json")
	if err != nil {
		return nil, err
	}
	m["user"] = slackUser(u)
	m["team"] = map[string]any{"id": teamID, "domain": "herald-demo"}
	m["trigger_id"] = c.newTrigger(u.ID)
	m["view"] = viewWithState(v, in.State)
	body, err := c.interact(ctx, m)
	if err != nil {
		return nil, err
	}
	return c.applyResponse(v.ID, body)
}

// applyResponse does what Slack does with herald's answer to a
// view_submission: an empty answer closes the modal; response_action
// update, push, clear or errors change it.
func (c *Console) applyResponse(viewID string, body []byte) (any, error) {
	var resp struct {
		ResponseAction string            `json:"response_action"`
		View           json.RawMessage   `json:"view"`
		Errors         map[string]string `json:"errors"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, fmt.Errorf("herald answered the view_submission with %q: %w", body, err)
		}
	}
	var err error
	switch resp.ResponseAction {
	case "update":
		_, err = c.o.Slack.ApplyViewUpdate(viewID, resp.View)
		c.setTop(func(e *modalEntry) { e.Errors = nil })
	case "push":
		var v slackapi.View
		if v, err = c.o.Slack.ApplyViewPush(resp.View); err == nil {
			c.mu.Lock()
			c.known[v.ID] = true
			user := ""
			if n := len(c.modals); n > 0 {
				user = c.modals[n-1].User
			}
			c.modals = append(c.modals, modalEntry{ID: v.ID, User: user})
			c.mu.Unlock()
		}
	case "errors":
		c.setTop(func(e *modalEntry) { e.Errors = resp.Errors })
	case "clear":
		c.mu.Lock()
		c.modals = nil
		c.mu.Unlock()
	default:
		c.popModal()
	}
	c.changed()
	return map[string]any{"ok": err == nil, "responseAction": resp.ResponseAction, "errors": resp.Errors}, err
}

// CloseRequest is the modal's cancel or close button.
type CloseRequest struct {
	ViewID string `json:"viewId"`
}

func (c *Console) viewClose(_ context.Context, in CloseRequest) (any, error) {
	if _, _, err := c.topView(in.ViewID); err != nil {
		return nil, err
	}
	// herald asks for no view_closed events (notify_on_close), so Slack
	// would tell it nothing: neither does the console.
	c.popModal()
	c.changed()
	return nil, nil
}

func (c *Console) topView(id string) (modalEntry, slackapi.View, error) {
	c.mu.Lock()
	n := len(c.modals)
	var top modalEntry
	if n > 0 {
		top = c.modals[n-1]
	}
	c.mu.Unlock()
	if n == 0 || top.ID != id {
		return modalEntry{}, slackapi.View{}, badRequest("view " + id + " is not the open modal")
	}
	v, ok := c.o.Slack.View(id)
	if !ok {
		return modalEntry{}, slackapi.View{}, badRequest("no view " + id)
	}
	return top, v, nil
}

func (c *Console) setTop(f func(*modalEntry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.modals); n > 0 {
		f(&c.modals[n-1])
	}
}

func (c *Console) popModal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.modals); n > 0 {
		c.modals = c.modals[:n-1]
	}
}

// interact posts a signed interaction payload to herald and returns its
// answer's body.
func (c *Console) interact(ctx context.Context, payload map[string]any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding the interaction: %w", err)
	}
	code, body, err := c.send(ctx, c.signer.Interaction(c.o.HeraldURL+"/slack/interactions", b))
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("herald answered the interaction with HTTP %d: %s", code, body)
	}
	c.changed()
	return body, nil
}

func (c *Console) send(ctx context.Context, req *http.Request) (int, []byte, error) {
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, fmt.Errorf("calling herald: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading herald's answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

func fixture(name string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(slackapi.Fixture(name), &m); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	return m, nil
}

func slackUser(u User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Handle, "name": u.Handle, "team_id": teamID}
}

// viewWithState is a modal as Slack sends it back: the view herald opened,
// its id and hash, and what the person entered.
func viewWithState(v slackapi.View, state map[string]map[string]any) map[string]any {
	var out map[string]any
	_ = json.Unmarshal(v.Raw, &out)
	if out == nil {
		out = map[string]any{}
	}
	out["id"], out["hash"], out["team_id"] = v.ID, v.Hash, teamID
	out["root_view_id"] = v.ID
	if state == nil {
		state = map[string]map[string]any{}
	}
	out["state"] = map[string]any{"values": state}
	return out
}

func actionTS() string {
	now := time.Now()
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

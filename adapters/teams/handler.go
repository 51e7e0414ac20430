package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/rs/zerolog"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/command"
	"github.com/heraldops/herald/bot/workflow"
)

// Workflow is the incident workflow this front end drives.
type Workflow = workflow.Front

// Replier answers a stakeholder from chat (incident reply); *bot.Replies is it.
type Replier interface {
	Answer(ctx context.Context, by bot.Actor, inc bot.Incident, who, text string) (bot.Recipient, error)
}

// Handler serves POST /teams/messages: every Bot Framework activity. It
// checks the token first (401 and nothing else when it fails), stores the
// conversation reference, recognises redelivered activities and repeated
// card clicks, and drives the workflow.
//
// Work is done before answering: the Bot Connector waits up to 15 s, the
// workflow calls are a few store operations and connector posts, invoke
// activities must be answered with their result, and the relay itself runs
// on the durable queue. Timeout bounds each activity's work.
type Handler struct {
	Workflow  Workflow
	Directory *bot.Directory // audiences and templates for the compose card
	Validator *Validator
	Chat      *Chat
	Refs      References
	Dedup     bot.Deduper
	Replier   Replier // nil: "reply" says it is not available
	Log       zerolog.Logger
	Now       func() time.Time
	// DedupTTL is how long activity ids and card clicks are remembered
	// (default 24 h).
	DedupTTL time.Duration
	// Timeout bounds the work for one activity (default 12 s).
	Timeout time.Duration
}

const maxActivityBytes = 256 << 10

// Validate reports what is missing before the handler can serve.
func (h *Handler) Validate() error {
	var missing []string
	if h.Workflow == nil {
		missing = append(missing, "workflow")
	}
	if h.Directory == nil {
		missing = append(missing, "directory")
	}
	if h.Validator == nil || h.Validator.AppID == "" {
		missing = append(missing, "token validator with TEAMS_APP_ID")
	}
	if h.Chat == nil || h.Chat.Connector == nil {
		missing = append(missing, "chat")
	}
	if h.Refs == nil {
		missing = append(missing, "conversation references")
	}
	if h.Dedup == nil {
		missing = append(missing, "deduper")
	}
	if len(missing) > 0 {
		return fmt.Errorf("teams handler: missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug in herald or a library must cost one activity, not the process.
		if p := recover(); p != nil {
			h.Log.Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Msg("teams activity handler panicked")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// The token is checked before the body is even read: an unauthenticated
	// caller learns nothing and costs nothing.
	claims, err := h.Validator.Verify(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		h.refuse(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxActivityBytes+1))
	if err != nil {
		http.Error(w, "reading activity: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxActivityBytes {
		http.Error(w, "activity too large", http.StatusRequestEntityTooLarge)
		return
	}
	var act schema.Activity
	if err := json.Unmarshal(body, &act); err != nil {
		http.Error(w, "malformed activity: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := claims.Check(act); err != nil {
		h.refuse(w, err)
		return
	}
	if act.Type == "" || act.Conversation.ID == "" {
		http.Error(w, "malformed activity: type and conversation.id are required", http.StatusBadRequest)
		return
	}

	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 12 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	log := h.Log.With().Str("activity", act.ID).Str("type", string(act.Type)).Logger()

	// Every activity refreshes its conversation's reference (the service URL
	// may move); a failure here must not lose the user's command.
	if err := h.Refs.SaveReference(ctx, referenceOf(act)); err != nil {
		log.Warn().Err(err).Msg("saving conversation reference")
	}

	if act.ID != "" {
		first, err := h.Dedup.FirstTime(ctx, "teams:activity:"+baseConversation(act.Conversation.ID)+":"+act.ID, h.dedupTTL())
		if err != nil {
			log.Error().Err(err).Msg("checking for a redelivered activity")
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if !first {
			log.Debug().Msg("redelivered activity ignored")
			h.answerInvoke(w, act, invokeResult{text: textAlreadyHandled})
			return
		}
	}

	switch {
	case act.Type == schema.Invoke && act.Name == "adaptiveCard/action":
		data, _ := act.Value["action"].(map[string]any)
		values, _ := data["data"].(map[string]any)
		res := h.cardAction(ctx, log, act, values, true)
		h.answerInvoke(w, act, res)
		return
	case act.Type == schema.Message && len(act.Value) > 0:
		h.cardAction(ctx, log, act, act.Value, false)
	case act.Type == schema.Message:
		h.message(ctx, log, act)
	case act.Type == schema.ConversationUpdate:
		// The reference is stored above; that is all herald needs.
		log.Info().Str("conversation", baseConversation(act.Conversation.ID)).Msg("conversation reference stored")
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) dedupTTL() time.Duration {
	if h.DedupTTL > 0 {
		return h.DedupTTL
	}
	return 24 * time.Hour
}

func (h *Handler) refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrKeysUnavailable) {
		h.Log.Error().Err(err).Msg("cannot verify Teams activity tokens")
		http.Error(w, "cannot verify tokens right now", http.StatusServiceUnavailable)
		return
	}
	h.Log.Warn().Err(err).Msg("refused Teams activity")
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// invokeResult is the answer to an invoke activity: a card replacing the
// clicked one, or a message.
type invokeResult struct {
	card map[string]any
	text string
}

func (h *Handler) answerInvoke(w http.ResponseWriter, act schema.Activity, res invokeResult) {
	if act.Type != schema.Invoke {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if res.card != nil {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"statusCode": 200, "type": AdaptiveCardContentType, "value": res.card,
		})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": res.text,
	})
}

// actor is who sent an activity: roles are configured by AAD object id.
func actor(act schema.Activity) bot.Actor {
	id := act.From.AadObjectID
	if id == "" {
		id = act.From.ID
	}
	return bot.Actor{Platform: bot.PlatformTeams, ID: id, Name: act.From.Name}
}

// botName is the name under which the activity mentions the bot.
func botName(act schema.Activity, raw []mentionEntity) string {
	for _, e := range raw {
		if e.Type == "mention" && e.Mentioned.ID == act.Recipient.ID {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(e.Text, "<at>"), "</at>"))
		}
	}
	return act.Recipient.Name
}

type mentionEntity struct {
	Type      string                `json:"type"`
	Text      string                `json:"text"`
	Mentioned schema.ChannelAccount `json:"mentioned"`
}

// say answers the person in the conversation they wrote in.
func (h *Handler) say(ctx context.Context, log zerolog.Logger, in schema.Activity, m bot.Message) {
	if err := h.Chat.replyTo(ctx, in, cardActivity(Render(m), m.PlainText())); err != nil {
		log.Error().Err(err).Msg("answering in Teams")
	}
}

func (h *Handler) sayText(ctx context.Context, log zerolog.Logger, in schema.Activity, text string) {
	h.say(ctx, log, in, bot.Message{Text: text})
}

// message handles a typed command.
func (h *Handler) message(ctx context.Context, log zerolog.Logger, act schema.Activity) {
	var entities []mentionEntity
	if raw, err := json.Marshal(act.Entities); err == nil {
		_ = json.Unmarshal(raw, &entities)
	}
	cmd, err := parseCommand(act.Text, botName(act, entities))
	var usage *command.UsageError
	if errors.As(err, &usage) {
		h.sayText(ctx, log, act, textUsageError(usage))
		return
	}
	log = log.With().Str("command", string(cmd.Name)).Logger()
	if !command.Offers(command.Teams, cmd) {
		// Parsed but not acted on in Teams yet (failover, reach, a --drill,
		// SMS's UPDATE): say so, rather than "unknown command" or dropping
		// a flag.
		h.sayText(ctx, log, act, textNotAvailable(cmd))
		return
	}
	by := actor(act)
	switch cmd.Name {
	case command.Help:
		h.say(ctx, log, act, textHelp(cmd.Topic))
	case command.New:
		inc, err := h.Workflow.Declare(ctx, by, cmd.Title, cmd.Severity, baseConversation(act.Conversation.ID))
		if err != nil {
			h.fail(ctx, log, act, fmt.Errorf("declaring an incident: %w", err))
			return
		}
		if !inSameThread(act, inc.Thread) {
			h.sayText(ctx, log, act, textDeclared(inc))
		}
	case command.Notify:
		inc, ok := h.incidentFor(ctx, log, act, cmd.IncidentID)
		if !ok {
			return
		}
		h.postCompose(ctx, log, act, inc)
	case command.Status:
		inc, ok := h.incidentFor(ctx, log, act, cmd.IncidentID)
		if !ok {
			return
		}
		rep, err := h.Workflow.Status(ctx, inc.ID)
		if err != nil {
			h.fail(ctx, log, act, fmt.Errorf("reporting on %s: %w", inc.ID, err))
			return
		}
		h.say(ctx, log, act, workflow.StatusMessage(rep, h.now()))
	case command.List:
		incs, err := h.Workflow.List(ctx, !cmd.All)
		if err != nil {
			h.fail(ctx, log, act, fmt.Errorf("listing incidents: %w", err))
			return
		}
		h.say(ctx, log, act, workflow.ListMessage(bot.PlatformTeams, incs, !cmd.All, h.now()))
	case command.Resolve:
		inc, ok := h.incidentFor(ctx, log, act, cmd.IncidentID)
		if !ok {
			return
		}
		if _, err := h.Workflow.Resolve(ctx, by, inc.ID); err != nil {
			h.fail(ctx, log, act, fmt.Errorf("resolving %s: %w", inc.ID, err))
		}
	case command.Reply:
		if h.Replier == nil {
			h.sayText(ctx, log, act, textNoReplier())
			return
		}
		inc, ok := h.incidentFor(ctx, log, act, cmd.IncidentID)
		if !ok {
			return
		}
		r, err := h.Replier.Answer(ctx, by, inc, cmd.Who, cmd.Text)
		if err != nil {
			h.fail(ctx, log, act, fmt.Errorf("answering %s about %s: %w", cmd.Who, inc.ID, err))
			return
		}
		h.sayText(ctx, log, act, textReplySent(r.Name))
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// inSameThread reports whether the activity was typed in the incident's own
// thread, where the root message already says everything.
func inSameThread(act schema.Activity, th bot.ThreadRef) bool {
	return th.RootID != "" && act.Conversation.ID == th.Channel+";messageid="+th.RootID
}

// incidentFor finds the incident a command is about: the id given; else the
// incident whose thread the command was typed in; else the newest open one
// in this channel; else the newest open one anywhere (personal chat).
func (h *Handler) incidentFor(ctx context.Context, log zerolog.Logger, act schema.Activity, id string) (bot.Incident, bool) {
	if id != "" {
		inc, err := h.Workflow.Incident(ctx, id)
		if err != nil {
			h.fail(ctx, log, act, fmt.Errorf("finding %s: %w", id, err))
			return bot.Incident{}, false
		}
		return inc, true
	}
	channel, root, _ := strings.Cut(act.Conversation.ID, ";messageid=")
	if root != "" {
		if incs, err := h.Workflow.List(ctx, true); err == nil {
			for _, inc := range incs {
				if inc.Thread.Channel == channel && inc.Thread.RootID == root {
					return inc, true
				}
			}
		}
	}
	for _, ch := range []string{channel, ""} {
		inc, err := h.Workflow.NewestOpen(ctx, ch)
		if err == nil {
			return inc, true
		}
		if !errors.Is(err, bot.ErrNotFound) {
			h.fail(ctx, log, act, fmt.Errorf("finding the open incident: %w", err))
			return bot.Incident{}, false
		}
	}
	h.sayText(ctx, log, act, textNoIncident())
	return bot.Incident{}, false
}

// fail tells the person what went wrong (the core's refusal texts) and logs
// what is not their doing.
func (h *Handler) fail(ctx context.Context, log zerolog.Logger, act schema.Activity, err error) {
	if !bot.Refusal(err) {
		log.Error().Err(err).Str("ref", bot.ErrorRef(err)).Msg("teams command failed")
	}
	h.say(ctx, log, act, workflow.RefusalMessage(err))
}

// postCompose posts the compose card into the incident's thread.
func (h *Handler) postCompose(ctx context.Context, log zerolog.Logger, act schema.Activity, inc bot.Incident) {
	form := NewComposeForm(h.Directory, inc, bot.Draft{}, nil)
	if inc.Thread.IsZero() {
		// The root message never made it to chat: compose right here.
		if err := h.Chat.replyTo(ctx, act, cardActivity(ComposeCard(form), textComposeTitle(inc))); err != nil {
			log.Error().Err(err).Msg("posting the compose card")
		}
		return
	}
	if _, err := h.Chat.PostCard(ctx, inc.Thread, ComposeCard(form), textComposeTitle(inc)); err != nil {
		h.fail(ctx, log, act, fmt.Errorf("posting the compose card for %s: %w", inc.ID, err))
		return
	}
	if !inSameThread(act, inc.Thread) {
		h.sayText(ctx, log, act, textComposePosted(inc))
	}
}

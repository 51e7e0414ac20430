package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// maxBody bounds a request body; Slack's largest (a view_submission of a
// big modal) stays far below it.
const maxBody = 1 << 20

// eventDedupTTL is how long an event id is remembered: Slack retries for
// about an hour at most.
const eventDedupTTL = 2 * time.Hour

// Routes registers the three Slack endpoints on mux.
func (f *Frontend) Routes(mux *http.ServeMux) {
	mux.Handle("POST /slack/commands", f.CommandsHandler())
	mux.Handle("POST /slack/interactions", f.InteractionsHandler())
	mux.Handle("POST /slack/events", f.EventsHandler())
}

// verified reads the body while checking Slack's signature: a missing, wrong
// or stale (more than 5 minutes) signature gets 401 and next is not called.
func (f *Frontend) verified(next func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sv, err := slack.NewSecretsVerifier(r.Header, f.cfg.SigningSecret)
		if err != nil {
			http.Error(w, "request not signed by Slack: "+err.Error(), http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.TeeReader(http.MaxBytesReader(w, r.Body, maxBody), &sv))
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := sv.Ensure(); err != nil {
			http.Error(w, "request not signed by Slack: "+err.Error(), http.StatusUnauthorized)
			return
		}
		next(w, r, body)
	})
}

func badRequest(w http.ResponseWriter, reason string) {
	http.Error(w, reason, http.StatusBadRequest)
}

func writeJSON(w http.ResponseWriter, v any) {
	if v == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// CommandsHandler serves POST /slack/commands.
func (f *Frontend) CommandsHandler() http.Handler {
	return f.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		sc, err := parseSlashCommand(body)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), f.cfg.Budget)
		defer cancel()
		if msg := f.Command(ctx, sc); msg != nil {
			writeJSON(w, msg)
			return
		}
		w.WriteHeader(http.StatusOK) // an empty ack shows nothing (a modal opened)
	})
}

func parseSlashCommand(body []byte) (slack.SlashCommand, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.SlashCommand{}, fmt.Errorf("slash command body is not a form: %w", err)
	}
	sc := slack.SlashCommand{
		Token: form.Get("token"), TeamID: form.Get("team_id"), TeamDomain: form.Get("team_domain"),
		EnterpriseID: form.Get("enterprise_id"), EnterpriseName: form.Get("enterprise_name"),
		IsEnterpriseInstall: form.Get("is_enterprise_install") == "true",
		ChannelID:           form.Get("channel_id"), ChannelName: form.Get("channel_name"),
		UserID: form.Get("user_id"), UserName: form.Get("user_name"),
		Command: form.Get("command"), Text: form.Get("text"),
		ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id"), APIAppID: form.Get("api_app_id"),
	}
	if err := checkSlashCommand(sc); err != nil {
		return slack.SlashCommand{}, err
	}
	return sc, nil
}

func checkSlashCommand(sc slack.SlashCommand) error {
	var missing []string
	for name, v := range map[string]string{"command": sc.Command, "user_id": sc.UserID, "channel_id": sc.ChannelID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("slash command without %s", strings.Join(sortedStrings(missing), ", "))
	}
	return nil
}

// InteractionsHandler serves POST /slack/interactions.
func (f *Frontend) InteractionsHandler() http.Handler {
	return f.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			badRequest(w, "interaction body is not a form: "+err.Error())
			return
		}
		payload := form.Get("payload")
		if payload == "" {
			badRequest(w, "interaction without a payload")
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(payload), &cb); err != nil {
			badRequest(w, "interaction payload is not JSON: "+err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), f.cfg.Budget)
		defer cancel()
		resp, err := f.Interaction(ctx, cb)
		var malformed *MalformedError
		if errors.As(err, &malformed) {
			badRequest(w, malformed.Reason)
			return
		}
		if err != nil {
			f.report(ctx, err)
			http.Error(w, "herald could not handle the interaction", http.StatusInternalServerError)
			return
		}
		writeJSON(w, resp)
	})
}

// EventsHandler serves POST /slack/events: url_verification answers the
// challenge; event callbacks are acknowledged at once and handled by the
// pool, once per event_id however often Slack retries (X-Slack-Retry-Num).
func (f *Frontend) EventsHandler() http.Handler {
	return f.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		challenge, err := f.Event(r.Context(), body)
		var malformed *MalformedError
		switch {
		case errors.As(err, &malformed):
			badRequest(w, malformed.Reason)
		case err != nil:
			// Slack retries on a non-2xx answer: worth it when the dedup
			// store was unreachable.
			f.report(r.Context(), err)
			http.Error(w, "herald could not take the event", http.StatusServiceUnavailable)
		case challenge != "":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, challenge)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

func sortedStrings(s []string) []string {
	m := make(map[string]struct{}, len(s))
	for _, x := range s {
		m[x] = struct{}{}
	}
	return slices.Sorted(maps.Keys(m))
}

package botframework

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// serveConnector handles /v3/conversations... under any service URL prefix
// (real service URLs carry a region and tenant path: /amer/<tenant>/).
func (s *Server) serveConnector(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	rest := path[strings.Index(path, "/v3/conversations")+len("/v3/conversations"):]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	a := Activity{Method: r.Method, Host: r.Host, Path: path, Raw: body}

	if !s.authorized(r) {
		a.Status = http.StatusUnauthorized
		s.record(a)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
		return
	}
	if f, ok := s.takeFault(); ok {
		a.Status = f.Status
		s.record(a)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, faultCode(f.Status), "injected fault")
		return
	}

	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if rest == "" || rest == "/" {
		segs = nil
	}
	for i, sg := range segs {
		u, err := url.PathUnescape(sg)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadArgument", "bad path segment")
			return
		}
		segs[i] = u
	}
	switch {
	case r.Method == http.MethodPost && len(segs) == 0:
		s.createConversation(w, a)
	case r.Method == http.MethodPost && len(segs) == 2 && segs[1] == "activities":
		a.ConversationID = segs[0]
		s.postActivity(w, a)
	case r.Method == http.MethodPost && len(segs) == 3 && segs[1] == "activities":
		a.ConversationID, a.ReplyTo = segs[0], segs[2]
		s.postActivity(w, a)
	case r.Method == http.MethodPut && len(segs) == 3 && segs[1] == "activities":
		a.ConversationID, a.ActivityID = segs[0], segs[2]
		s.updateActivity(w, a)
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no such connector operation: "+r.Method+" "+path)
	}
}

func (s *Server) createConversation(w http.ResponseWriter, a Activity) {
	var p schema.ConversationParameters
	if err := json.Unmarshal(a.Raw, &p); err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "invalid conversation parameters: "+err.Error())
		return
	}
	channel, _ := p.ChannelData["channel"].(map[string]any)
	channelID, _ := channel["id"].(string)
	if channelID == "" {
		writeError(w, http.StatusBadRequest, "BadArgument", "channelData.channel.id is required to start a channel thread")
		return
	}
	id := s.nextID()
	a.Created, a.Parameters, a.Activity = true, &p, p.Activity
	a.ConversationID, a.ActivityID = channelID+";messageid="+id, id
	a.Status = http.StatusCreated
	s.record(a)
	writeJSON(w, http.StatusCreated, schema.ConversationResourceResponse{ID: a.ConversationID, ActivityID: id})
}

func (s *Server) postActivity(w http.ResponseWriter, a Activity) {
	if err := json.Unmarshal(a.Raw, &a.Activity); err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "invalid activity: "+err.Error())
		return
	}
	a.ActivityID = s.nextID()
	a.Status = http.StatusCreated
	s.record(a)
	writeJSON(w, http.StatusCreated, schema.ResourceResponse{ID: a.ActivityID})
}

func (s *Server) updateActivity(w http.ResponseWriter, a Activity) {
	if err := json.Unmarshal(a.Raw, &a.Activity); err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "invalid activity: "+err.Error())
		return
	}
	if !s.known(a.ConversationID, a.ActivityID) {
		a.Status = http.StatusNotFound
		s.record(a)
		writeError(w, http.StatusNotFound, "ActivityNotFoundInConversation", "The activity does not exist in this conversation.")
		return
	}
	a.Status = http.StatusOK
	s.record(a)
	writeJSON(w, http.StatusOK, schema.ResourceResponse{ID: a.ActivityID})
}

// known reports whether activityID was posted in conversation (or its
// channel, for thread roots) earlier. Updates of unknown activities fail in
// Teams too.
func (s *Server) known(conversation, activityID string) bool {
	channel, _, _ := strings.Cut(conversation, ";messageid=")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.activities {
		if !a.OK() || a.ActivityID != activityID {
			continue
		}
		c, _, _ := strings.Cut(a.ConversationID, ";messageid=")
		if c == channel {
			return true
		}
	}
	return false
}

func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusBadGateway:
		return "BadGateway"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	}
	return "ServiceError"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the connector's ErrorResponse shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

package slackapi

import (
	"encoding/base64"
	"strconv"
	"strings"
)

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

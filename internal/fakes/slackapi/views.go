package slackapi

import (
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"
)

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

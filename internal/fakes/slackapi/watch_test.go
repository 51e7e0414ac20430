package slackapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// The demo console plays the Slack client: it applies the response_action
// herald answers a view_submission with, as Slack does.
func TestViewResponsesAreAppliedAsSlackDoes(t *testing.T) {
	fake := newFake(t)
	api := fake.Client()
	ctx := ctxT(t)
	changed := fake.Changed()

	// given a modal herald opened
	step1 := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "Notify", false, false)}
	opened, err := api.OpenViewContext(ctx, "trigger-1", step1)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed did not fire on views.open")
	}

	// when herald answers response_action update, then push
	step2, _ := json.Marshal(map[string]any{"type": "modal", "title": map[string]any{"type": "plain_text", "text": "Check and send"}})
	updated, err := fake.ApplyViewUpdate(opened.ID, step2)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := fake.ApplyViewPush(step2)
	if err != nil {
		t.Fatal(err)
	}

	// then the modal keeps its id with a new hash, and the pushed one is on top
	if updated.ID != opened.ID || updated.Hash == opened.Hash || !strings.Contains(updated.AllText(), "Check and send") {
		t.Errorf("updated view = %+v, want the same id, a new hash and the new text", updated)
	}
	views := fake.Views()
	if len(views) != 2 || views[0].ID != opened.ID || views[1].ID != pushed.ID {
		t.Errorf("views = %+v, want the opened one then the pushed one", views)
	}
	if _, err := fake.ApplyViewUpdate("V-missing", step2); err == nil {
		t.Error("updating an unknown view did not fail")
	}
}

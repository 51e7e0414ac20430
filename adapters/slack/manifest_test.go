package slack

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAppManifestMatchesTheRoutes keeps deploy/slack-app-manifest.yaml in
// step with what the front end serves: the slash command, the three request
// URLs and the scopes the code needs.
func TestAppManifestMatchesTheRoutes(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command string `yaml:"command"`
				URL     string `yaml:"url"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled    bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
			Events struct {
				RequestURL string `yaml:"request_url"`
			} `yaml:"event_subscriptions"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest is not YAML: %v", err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/incident" {
		t.Fatalf("slash commands %+v, want /incident", m.Features.SlashCommands)
	}
	if !m.Settings.Interactivity.Enabled || m.Settings.SocketMode {
		t.Fatal("want interactivity on and Socket Mode off (HTTP by default)")
	}

	mux := http.NewServeMux()
	(&Frontend{}).Routes(mux)
	for _, u := range []string{m.Features.SlashCommands[0].URL, m.Settings.Interactivity.RequestURL, m.Settings.Events.RequestURL} {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme != "https" {
			t.Fatalf("request URL %q is not https", u)
		}
		if _, pattern := mux.Handler(&http.Request{Method: http.MethodPost, URL: parsed, Host: parsed.Host}); pattern == "" {
			t.Errorf("the manifest sends Slack to %s, which herald does not serve", parsed.Path)
		}
	}
	for _, scope := range []string{"commands", "chat:write", "users:read", "users:read.phone", "channels:read", "groups:read"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, scope) {
			t.Errorf("manifest lacks the bot scope %s", scope)
		}
	}
}

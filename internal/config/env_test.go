package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

type mapEnv map[string]string

func (m mapEnv) get(name string) string { return m[name] }

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// serveEnv is a complete environment for serve with Slack.
func serveEnv() mapEnv {
	return mapEnv{
		"HERALD_PUBLIC_URL":    "https://herald.example.com/",
		"REDIS_URL":            "redis://localhost:6379/0",
		"HERALD_DATA_KEY":      testKey,
		"TWILIO_ACCOUNT_SID":   "AC00000000000000000000000000000000",
		"TWILIO_AUTH_TOKEN":    "tw-auth-1",
		"TWILIO_SMS_FROM":      "+1 415 555 0100",
		"SLACK_BOT_TOKEN":      "xoxb-1",
		"SLACK_SIGNING_SECRET": "sl-sign-1",
	}
}

func TestEnvDefaults(t *testing.T) {
	e, err := EnvFrom(mapEnv{}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Env{
		Addr:                   ":8080",
		SlackAPIURL:            "https://slack.com/api/",
		TwilioAPIURL:           "https://api.twilio.com",
		TeamsOpenIDMetadataURL: "https://login.botframework.com/v1/.well-known/openidconfiguration",
		TeamsTokenURL:          "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token",
		LogLevel:               "info",
		LogFormat:              "json",
	}
	if e.String() != want.String() || e.Addr != want.Addr || e.TeamsTokenURL != want.TeamsTokenURL {
		t.Errorf("defaults\n%v\nwant\n%v", e, want)
	}
}

func TestEnvNormalises(t *testing.T) {
	env := serveEnv()
	env["SLACK_API_URL"] = "http://127.0.0.1:9000/api"
	env["TWILIO_API_URL"] = "http://127.0.0.1:9001/"
	env["TWILIO_WHATSAPP_FROM"] = "+14155550100"
	env["TEAMS_TENANT_ID"] = "contoso.onmicrosoft.com"
	env["LOG_LEVEL"] = "DEBUG"
	env["REDIS_URL"] = " rediss://:pw@redis:6380/0\n"
	e, err := EnvFrom(env.get)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"PublicURL", e.PublicURL, "https://herald.example.com"},
		{"SlackAPIURL", e.SlackAPIURL, "http://127.0.0.1:9000/api/"},
		{"TwilioAPIURL", e.TwilioAPIURL, "http://127.0.0.1:9001"},
		{"TwilioSMSFrom", e.TwilioSMSFrom, "+14155550100"},
		{"TwilioWhatsAppFrom", e.TwilioWhatsAppFrom, "whatsapp:+14155550100"},
		{"TeamsTokenURL", e.TeamsTokenURL, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"LogLevel", e.LogLevel, "debug"},
		{"RedisURL", e.RedisURL, "rediss://:pw@redis:6380/0"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(e.DataKey, bytes.Repeat([]byte{7}, 32)) {
		t.Errorf("data key %x", e.DataKey)
	}
	if err := e.CheckServe(nil); err != nil {
		t.Errorf("complete environment refused: %v", err)
	}
}

func TestEnvMalformed(t *testing.T) {
	env := mapEnv{
		"HERALD_ADDR":                  "8080",
		"HERALD_PUBLIC_URL":            "herald.example.com",
		"REDIS_URL":                    "localhost:6379",
		"HERALD_DATA_KEY":              base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!")),
		"SLACK_APP_TOKEN":              "xoxb-wrong-kind",
		"TWILIO_ACCOUNT_SID":           "SK123",
		"TWILIO_MESSAGING_SERVICE_SID": "PN123",
		"TWILIO_SMS_FROM":              "ACME",
		"TWILIO_WHATSAPP_FROM":         "whatsapp:4915100000001",
		"LOG_FORMAT":                   "text",
	}
	_, err := EnvFrom(env.get)
	var ee *EnvError
	if !errors.As(err, &ee) {
		t.Fatalf("want *EnvError, got %v", err)
	}
	want := "environment: invalid HERALD_ADDR (must be host:port or :port, like :8080), " +
		"HERALD_PUBLIC_URL (must be an http:// or https:// URL), " +
		"REDIS_URL (must be a redis:// or rediss:// URL), " +
		"HERALD_DATA_KEY (must be base64 of 32 random bytes, e.g. from: head -c 32 /dev/urandom | base64), " +
		"SLACK_APP_TOKEN (must be an app-level token, xapp-...), " +
		"TWILIO_ACCOUNT_SID (must start with AC), " +
		"TWILIO_MESSAGING_SERVICE_SID (must start with MG), " +
		"TWILIO_SMS_FROM (must be an E.164 number like +14155550100, or a short code), " +
		"TWILIO_WHATSAPP_FROM (must be whatsapp:+E164, like whatsapp:+14155550100), " +
		"LOG_FORMAT (must be json or console)"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "localhost") || strings.Contains(err.Error(), env["HERALD_DATA_KEY"]) {
		t.Error("the error repeats a value")
	}
}

func TestCheckServe(t *testing.T) {
	for _, c := range []struct {
		name   string
		change mapEnv // "" deletes
		config *Config
		want   string
	}{
		{"nothing set", nil, nil, "environment: missing REDIS_URL, HERALD_DATA_KEY, HERALD_PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM, a chat platform (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or TEAMS_APP_ID and TEAMS_APP_PASSWORD)"},
		{"complete with Slack", mapEnv{}, nil, ""},
		{"Messaging Service instead of a number", mapEnv{"TWILIO_SMS_FROM": "", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}, nil, ""},
		{"Teams instead of Slack", mapEnv{"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "TEAMS_APP_ID": "id", "TEAMS_APP_PASSWORD": "pw"}, nil, ""},
		{"Slack half set", mapEnv{"SLACK_SIGNING_SECRET": ""}, nil, "environment: missing SLACK_SIGNING_SECRET"},
		{"Teams half set beside Slack", mapEnv{"TEAMS_APP_ID": "id"}, nil, "environment: missing TEAMS_APP_PASSWORD"},
		{"no SMS sender", mapEnv{"TWILIO_SMS_FROM": ""}, nil, "environment: missing TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM"},
		{"missing and malformed in one line", mapEnv{"REDIS_URL": "", "HERALD_DATA_KEY": "short"}, nil, "environment: missing REDIS_URL; invalid HERALD_DATA_KEY (must be base64 of 32 random bytes, e.g. from: head -c 32 /dev/urandom | base64)"},
		{"SMS recipients do not", mapEnv{}, &Config{Recipients: []Recipient{{ID: "omar", Channel: "sms"}}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := mapEnv{}
			if c.change != nil {
				env = serveEnv()
				for k, v := range c.change {
					env[k] = v
				}
			}
			e, _ := EnvFrom(env.get)
			err := e.CheckServe(c.config)
			got := ""
			if err != nil {
				got = err.Error()
				if strings.Contains(got, "\n") {
					t.Error("not one line")
				}
			}
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestEnvStringHidesSecrets(t *testing.T) {
	env := serveEnv()
	env["TEAMS_APP_PASSWORD"] = "teams-pw"
	env["SLACK_APP_TOKEN"] = "xapp-1"
	e, err := EnvFrom(env.get)
	if err != nil {
		t.Fatal(err)
	}
	s := e.String()
	for _, secret := range []string{"xoxb-1", "sl-sign-1", "tw-auth-1", testKey, "teams-pw", "xapp-1", "localhost"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() shows %q: %s", secret, s)
		}
	}
	if !strings.Contains(s, "SLACK_BOT_TOKEN=set") || !strings.Contains(s, "HERALD_PUBLIC_URL=https://herald.example.com") {
		t.Errorf("String() = %s", s)
	}
}

func TestWhatsAppWarning(t *testing.T) {
	c := &Config{Recipients: []Recipient{{ID: "dana", Channel: "whatsapp"}, {ID: "omar", Channel: "sms"}}}
	if got, want := (Env{}).WhatsAppWarning(c), "TWILIO_WHATSAPP_FROM is not set: 1 recipient(s) who prefer WhatsApp get SMS"; got != want {
		t.Errorf("warning = %q, want %q", got, want)
	}
	if got := (Env{TwilioWhatsAppFrom: "whatsapp:+14155238886"}).WhatsAppWarning(c); got != "" {
		t.Errorf("with a sender: %q", got)
	}
}

// HERALD_METRICS_ADDR is optional (metrics then stay on HERALD_ADDR); when
// set it must be a listen address of its own.
func TestMetricsAddr(t *testing.T) {
	for _, c := range []struct {
		addr, metrics string
		want          string // "" accepted
	}{
		{"", "", ""},
		{"", ":9090", ""},
		{":8080", "127.0.0.1:9090", ""},
		{"", "9090", "environment: invalid HERALD_METRICS_ADDR (must be host:port or :port, like :9090)"},
		{":8080", ":8080", "environment: invalid HERALD_METRICS_ADDR (must differ from HERALD_ADDR)"},
	} {
		e, err := EnvFrom(mapEnv{"HERALD_ADDR": c.addr, "HERALD_METRICS_ADDR": c.metrics}.get)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("HERALD_ADDR=%q HERALD_METRICS_ADDR=%q: got %q, want %q", c.addr, c.metrics, got, c.want)
		}
		if c.want == "" && e.MetricsAddr != c.metrics {
			t.Errorf("MetricsAddr = %q, want %q", e.MetricsAddr, c.metrics)
		}
	}
}

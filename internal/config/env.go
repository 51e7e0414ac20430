package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/heraldops/herald/internal/crypto"
)

// Env is the environment herald runs with: every secret, the endpoints, and
// HERALD_INCIDENT_CHANNEL, which overrides slack.incident_channel (see
// Config.ApplyEnv). Each field's env tag names its variable; README's
// environment section documents them all (a test keeps the two in step).
type Env struct {
	Addr            string `env:"HERALD_ADDR"`
	MetricsAddr     string `env:"HERALD_METRICS_ADDR"` // "": /metrics is served on Addr
	PublicURL       string `env:"HERALD_PUBLIC_URL"`   // no trailing slash
	RedisURL        string `env:"REDIS_URL"`
	DataKey         []byte `env:"HERALD_DATA_KEY"` // decoded: 32 bytes
	IncidentChannel string `env:"HERALD_INCIDENT_CHANNEL"`
	Operator        string `env:"HERALD_OPERATOR"` // who runs the CLI, in the audit beside the OS user

	SlackBotToken      string `env:"SLACK_BOT_TOKEN"`
	SlackSigningSecret string `env:"SLACK_SIGNING_SECRET"`
	SlackAppToken      string `env:"SLACK_APP_TOKEN"` // set: Socket Mode
	SlackAPIURL        string `env:"SLACK_API_URL"`   // always ends in "/", as slack-go needs

	TwilioAccountSID          string `env:"TWILIO_ACCOUNT_SID"`
	TwilioAuthToken           string `env:"TWILIO_AUTH_TOKEN"`
	TwilioAPIURL              string `env:"TWILIO_API_URL"` // no trailing slash
	TwilioMessagingServiceSID string `env:"TWILIO_MESSAGING_SERVICE_SID"`
	TwilioSMSFrom             string `env:"TWILIO_SMS_FROM"`      // E.164 or a short code
	TwilioWhatsAppFrom        string `env:"TWILIO_WHATSAPP_FROM"` // always whatsapp:+E164

	TeamsAppID             string `env:"TEAMS_APP_ID"`
	TeamsAppPassword       string `env:"TEAMS_APP_PASSWORD"`
	TeamsTenantID          string `env:"TEAMS_TENANT_ID"`
	TeamsOpenIDMetadataURL string `env:"TEAMS_OPENID_METADATA_URL"`
	TeamsTokenURL          string `env:"TEAMS_TOKEN_URL"`

	LogLevel  string `env:"LOG_LEVEL"`
	LogFormat string `env:"LOG_FORMAT"`

	invalid []string // "NAME (why)", for variables that were set but malformed
	bad     map[string]bool
}

// Defaults of the environment.
const (
	DefaultAddr                = ":8080"
	DefaultSlackAPIURL         = "https://slack.com/api/"
	DefaultTwilioAPIURL        = "https://api.twilio.com"
	DefaultTeamsOpenIDMetadata = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	DefaultLogLevel            = "info"
	DefaultLogFormat           = "json"
)

// DefaultTeamsTokenURL is where a Bot Framework bot gets its outbound token:
// its own tenant's endpoint for a single-tenant bot (tenant set), else the
// multi-tenant botframework.com one.
func DefaultTeamsTokenURL(tenant string) string {
	if tenant == "" {
		tenant = "botframework.com"
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// EnvError lists what is wrong with the environment, in one line.
type EnvError struct {
	Missing []string // variables (or choices of them) that must be set
	Invalid []string // "NAME (why)"; the value itself is never repeated
}

func (e *EnvError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(e.Missing, ", "))
	}
	if len(e.Invalid) > 0 {
		parts = append(parts, "invalid "+strings.Join(e.Invalid, ", "))
	}
	return "environment: " + strings.Join(parts, "; ")
}

var (
	e164Syntax = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	shortCode  = regexp.MustCompile(`^[0-9]{3,8}$`)
	logLevels  = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}
)

// EnvFrom reads the environment through getenv (os.Getenv in main, a map in
// tests), fills defaults, checks the format of every variable that is set
// and normalises it. The error, an *EnvError, names the malformed variables;
// it does not complain about missing ones: that is CheckServe's job, since
// only serve needs them all. The returned Env is usable either way.
func EnvFrom(getenv func(string) string) (Env, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	e := Env{bad: map[string]bool{}}
	fail := func(name, why string) {
		e.invalid = append(e.invalid, name+" ("+why+")")
		e.bad[name] = true
	}

	e.Addr = get("HERALD_ADDR")
	if e.Addr == "" {
		e.Addr = DefaultAddr
	} else if _, port, err := net.SplitHostPort(e.Addr); err != nil || !validPort(port) {
		fail("HERALD_ADDR", "must be host:port or :port, like :8080")
	}
	// A listener of its own for /metrics lets the webhook port face the
	// internet (through an ingress) while only Prometheus reaches metrics.
	if e.MetricsAddr = get("HERALD_METRICS_ADDR"); e.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(e.MetricsAddr); err != nil || !validPort(port) {
			fail("HERALD_METRICS_ADDR", "must be host:port or :port, like :9090")
		} else if e.MetricsAddr == e.Addr {
			fail("HERALD_METRICS_ADDR", "must differ from HERALD_ADDR")
		}
	}
	e.PublicURL = strings.TrimRight(get("HERALD_PUBLIC_URL"), "/")
	if e.PublicURL != "" && !httpURL(e.PublicURL) {
		fail("HERALD_PUBLIC_URL", "must be an http:// or https:// URL")
	}
	e.RedisURL = get("REDIS_URL")
	if e.RedisURL != "" {
		if u, err := url.Parse(e.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			fail("REDIS_URL", "must be a redis:// or rediss:// URL")
		}
	}
	if k := get("HERALD_DATA_KEY"); k != "" {
		if key, err := crypto.ParseKey(k); err == nil {
			e.DataKey = key
		} else {
			fail("HERALD_DATA_KEY", "must be base64 of 32 random bytes, e.g. from: head -c 32 /dev/urandom | base64")
		}
	}
	e.IncidentChannel = get("HERALD_INCIDENT_CHANNEL")
	e.Operator = strings.TrimSpace(get("HERALD_OPERATOR"))

	e.SlackBotToken = get("SLACK_BOT_TOKEN")
	e.SlackSigningSecret = get("SLACK_SIGNING_SECRET")
	e.SlackAppToken = get("SLACK_APP_TOKEN")
	if e.SlackAppToken != "" && !strings.HasPrefix(e.SlackAppToken, "xapp-") {
		fail("SLACK_APP_TOKEN", "must be an app-level token, xapp-...")
	}
	e.SlackAPIURL = get("SLACK_API_URL")
	if e.SlackAPIURL == "" {
		e.SlackAPIURL = DefaultSlackAPIURL
	} else if !httpURL(e.SlackAPIURL) {
		fail("SLACK_API_URL", "must be an http:// or https:// URL")
	} else if !strings.HasSuffix(e.SlackAPIURL, "/") {
		e.SlackAPIURL += "/"
	}

	e.TwilioAccountSID = get("TWILIO_ACCOUNT_SID")
	if e.TwilioAccountSID != "" && !strings.HasPrefix(e.TwilioAccountSID, "AC") {
		fail("TWILIO_ACCOUNT_SID", "must start with AC")
	}
	e.TwilioAuthToken = get("TWILIO_AUTH_TOKEN")
	e.TwilioAPIURL = strings.TrimRight(get("TWILIO_API_URL"), "/")
	if e.TwilioAPIURL == "" {
		e.TwilioAPIURL = DefaultTwilioAPIURL
	} else if !httpURL(e.TwilioAPIURL) {
		fail("TWILIO_API_URL", "must be an http:// or https:// URL")
	}
	e.TwilioMessagingServiceSID = get("TWILIO_MESSAGING_SERVICE_SID")
	if e.TwilioMessagingServiceSID != "" && !strings.HasPrefix(e.TwilioMessagingServiceSID, "MG") {
		fail("TWILIO_MESSAGING_SERVICE_SID", "must start with MG")
	}
	if from := get("TWILIO_SMS_FROM"); from != "" {
		n := stripPhone(from)
		if e164Syntax.MatchString(n) || shortCode.MatchString(n) {
			e.TwilioSMSFrom = n
		} else {
			fail("TWILIO_SMS_FROM", "must be an E.164 number like +14155550100, or a short code")
		}
	}
	if from := get("TWILIO_WHATSAPP_FROM"); from != "" {
		n := stripPhone(strings.TrimPrefix(from, "whatsapp:"))
		if e164Syntax.MatchString(n) {
			e.TwilioWhatsAppFrom = "whatsapp:" + n
		} else {
			fail("TWILIO_WHATSAPP_FROM", "must be whatsapp:+E164, like whatsapp:+14155550100")
		}
	}

	e.TeamsAppID = get("TEAMS_APP_ID")
	e.TeamsAppPassword = get("TEAMS_APP_PASSWORD")
	e.TeamsTenantID = get("TEAMS_TENANT_ID")
	e.TeamsOpenIDMetadataURL = get("TEAMS_OPENID_METADATA_URL")
	if e.TeamsOpenIDMetadataURL == "" {
		e.TeamsOpenIDMetadataURL = DefaultTeamsOpenIDMetadata
	} else if !httpURL(e.TeamsOpenIDMetadataURL) {
		fail("TEAMS_OPENID_METADATA_URL", "must be an http:// or https:// URL")
	}
	e.TeamsTokenURL = get("TEAMS_TOKEN_URL")
	if e.TeamsTokenURL == "" {
		e.TeamsTokenURL = DefaultTeamsTokenURL(e.TeamsTenantID)
	} else if !httpURL(e.TeamsTokenURL) {
		fail("TEAMS_TOKEN_URL", "must be an http:// or https:// URL")
	}

	e.LogLevel = strings.ToLower(get("LOG_LEVEL"))
	if e.LogLevel == "" {
		e.LogLevel = DefaultLogLevel
	} else if !contains(logLevels, e.LogLevel) {
		fail("LOG_LEVEL", "must be one of "+strings.Join(logLevels, ", "))
	}
	e.LogFormat = strings.ToLower(get("LOG_FORMAT"))
	if e.LogFormat == "" {
		e.LogFormat = DefaultLogFormat
	} else if e.LogFormat != "json" && e.LogFormat != "console" {
		fail("LOG_FORMAT", "must be json or console")
	}

	if len(e.invalid) > 0 {
		return e, &EnvError{Invalid: append([]string(nil), e.invalid...)}
	}
	return e, nil
}

// SlackConfigured reports whether any Slack variable is set.
func (e Env) SlackConfigured() bool {
	return e.SlackBotToken != "" || e.SlackSigningSecret != "" || e.SlackAppToken != ""
}

// TeamsConfigured reports whether any Teams app variable is set.
func (e Env) TeamsConfigured() bool {
	return e.TeamsAppID != "" || e.TeamsAppPassword != ""
}

// CheckServe says, in one line, every variable `herald serve` needs that is
// missing or malformed: REDIS_URL, HERALD_DATA_KEY, HERALD_PUBLIC_URL,
// TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, one of
// TWILIO_MESSAGING_SERVICE_SID / TWILIO_SMS_FROM, and at least one chat
// platform, each complete: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or
// TEAMS_APP_ID and TEAMS_APP_PASSWORD. TWILIO_WHATSAPP_FROM is not required:
// without it WhatsApp recipients get SMS (see WhatsAppWarning). The error is
// an *EnvError; nil means serve can start.
func (e Env) CheckServe(c *Config) error {
	var missing []string
	need := func(name, value string) {
		if value == "" && !e.bad[name] {
			missing = append(missing, name)
		}
	}
	need("REDIS_URL", e.RedisURL)
	need("HERALD_DATA_KEY", string(e.DataKey))
	need("HERALD_PUBLIC_URL", e.PublicURL)
	need("TWILIO_ACCOUNT_SID", e.TwilioAccountSID)
	need("TWILIO_AUTH_TOKEN", e.TwilioAuthToken)
	if e.TwilioMessagingServiceSID == "" && e.TwilioSMSFrom == "" &&
		!e.bad["TWILIO_MESSAGING_SERVICE_SID"] && !e.bad["TWILIO_SMS_FROM"] {
		missing = append(missing, "TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM")
	}
	switch {
	case !e.SlackConfigured() && !e.TeamsConfigured():
		missing = append(missing, "a chat platform (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or TEAMS_APP_ID and TEAMS_APP_PASSWORD)")
	default:
		if e.SlackConfigured() {
			need("SLACK_BOT_TOKEN", e.SlackBotToken)
			need("SLACK_SIGNING_SECRET", e.SlackSigningSecret)
		}
		if e.TeamsConfigured() {
			need("TEAMS_APP_ID", e.TeamsAppID)
			need("TEAMS_APP_PASSWORD", e.TeamsAppPassword)
		}
	}
	if len(missing) == 0 && len(e.invalid) == 0 {
		return nil
	}
	return &EnvError{Missing: missing, Invalid: append([]string(nil), e.invalid...)}
}

// String shows the environment with every secret replaced by "set", so an
// Env printed by mistake leaks nothing.
func (e Env) String() string {
	secret := map[string]bool{
		"HERALD_DATA_KEY": true, "SLACK_BOT_TOKEN": true, "SLACK_SIGNING_SECRET": true, "SLACK_APP_TOKEN": true,
		"TWILIO_AUTH_TOKEN": true, "TEAMS_APP_PASSWORD": true, "REDIS_URL": true,
	}
	var parts []string
	v := reflect.ValueOf(e)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		f := v.Field(i)
		if f.Len() == 0 {
			continue
		}
		val := "set"
		if !secret[name] && f.Kind() == reflect.String {
			val = f.String()
		}
		parts = append(parts, name+"="+val)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func stripPhone(s string) string {
	return strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(s)
}

// WhatsAppWarning says, when no WhatsApp sender is set but recipients prefer
// WhatsApp, that they will get SMS instead; "" when there is nothing to say.
func (e Env) WhatsAppWarning(c *Config) string {
	if c == nil || e.TwilioWhatsAppFrom != "" {
		return ""
	}
	n := 0
	for _, r := range c.Recipients {
		if r.Channel == "whatsapp" {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("TWILIO_WHATSAPP_FROM is not set: %d recipient(s) who prefer WhatsApp get SMS", n)
}

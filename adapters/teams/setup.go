package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/heraldops/herald/bot"
)

// Config is what the Teams front end needs from the environment and the
// shared store. The wiring builds the Chat first (the workflow posts through
// it), then the Handler (which drives the workflow).
type Config struct {
	AppID       string // TEAMS_APP_ID
	AppPassword string // TEAMS_APP_PASSWORD
	TenantID    string // TEAMS_TENANT_ID; empty for a multi-tenant bot
	// OpenIDMetadataURL is TEAMS_OPENID_METADATA_URL (default
	// DefaultOpenIDMetadataURL); TokenURL is TEAMS_TOKEN_URL (default
	// DefaultTokenURL(TenantID)).
	OpenIDMetadataURL string
	TokenURL          string

	KV      bot.KV          // conversation references
	Dedup   bot.Deduper     // redelivered activities, repeated clicks
	Limiter bot.RateLimiter // per-conversation pacing, shared by replicas

	// OnResult sees every connector attempt's outcome (failover health).
	OnResult func(err error)
	Log      zerolog.Logger
}

// Validate reports every missing setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.AppID == "" {
		errs = append(errs, errors.New("TEAMS_APP_ID is not set"))
	}
	if c.AppPassword == "" {
		errs = append(errs, errors.New("TEAMS_APP_PASSWORD is not set"))
	}
	if c.KV == nil {
		errs = append(errs, errors.New("no store for conversation references"))
	}
	if c.Dedup == nil {
		errs = append(errs, errors.New("no deduper"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("teams: %w", err)
	}
	return nil
}

// NewChat builds the Teams Chat (bot.Chat) for the workflow.
func NewChat(c Config) *Chat {
	tokenURL := c.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL(c.TenantID)
	}
	return &Chat{
		Connector: &Connector{
			Tokens:   &TokenSource{URL: tokenURL, AppID: c.AppID, Password: c.AppPassword},
			HTTP:     &http.Client{Timeout: 30 * time.Second},
			Limiter:  c.Limiter,
			OnResult: c.OnResult,
		},
		Refs:     &KVReferences{KV: c.KV},
		TenantID: c.TenantID,
	}
}

// NewHandler builds the POST /teams/messages handler around chat.
func NewHandler(c Config, chat *Chat, wf Workflow, dir *bot.Directory, replier Replier) (*Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		Workflow:  wf,
		Directory: dir,
		Validator: &Validator{AppID: c.AppID, MetadataURL: c.OpenIDMetadataURL},
		Chat:      chat,
		Refs:      chat.Refs,
		Dedup:     c.Dedup,
		Replier:   replier,
		Log:       c.Log,
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// Ready reports whether the Bot Framework's signing keys can be had (for
// /readyz): without them no activity can be accepted.
func (h *Handler) Ready(ctx context.Context) error {
	_, err := h.Validator.key(ctx, "")
	if errors.Is(err, ErrKeysUnavailable) {
		return err
	}
	return nil
}

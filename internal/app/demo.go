package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"

	"github.com/heraldops/herald/internal/config"
	"github.com/heraldops/herald/internal/crypto"
	"github.com/heraldops/herald/internal/demo"
	"github.com/heraldops/herald/internal/fakes/slackapi"
	"github.com/heraldops/herald/internal/fakes/twilioapi"
	"github.com/heraldops/herald/internal/httpserver"
)

// DefaultDemoAddr is where `herald demo` listens: loopback only, since the
// console has no authentication.
const DefaultDemoAddr = "127.0.0.1:8080"

// The demo's senders (the Twilio simulator accepts any valid E.164 sender).
const (
	demoSMSFrom      = "+15005550006"
	demoWhatsAppFrom = "whatsapp:+14155238886"
)

// DemoOptions are `herald demo`'s inputs.
type DemoOptions struct {
	Addr        string // default DefaultDemoAddr; ":0" picks a free port (tests)
	RedisURL    string // empty: an in-process Redis-compatible store (miniredis)
	WriteConfig string // set: write the seeded config into this folder and stop
	Version     string
	Logger      zerolog.Logger
	Out         io.Writer // the lines meant for the person at the terminal
	// Ready, when set, is called once the console answers, with its URL and
	// how long start-up took (tests and the start-up measurement).
	Ready func(url string, took time.Duration)
}

// Demo runs `herald demo`: herald wired exactly as Serve wires it (build,
// routes, run), but with the Slack and Twilio simulators started in-process
// and the environment pointed at them, an in-process store unless RedisURL
// is given, secrets generated for this run, and the console mounted beside
// herald's own endpoints.
func Demo(ctx context.Context, o DemoOptions) error {
	start := time.Now()
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if o.WriteConfig != "" {
		p, err := demo.WriteConfig(o.WriteConfig)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "herald demo: wrote %s; start your herald.yaml from it (herald config validate -c %s)\n", p, p)
		return nil
	}
	addr := cmp.Or(o.Addr, DefaultDemoAddr)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	defer ln.Close()
	if !loopback(ln.Addr()) {
		fmt.Fprintf(out, "herald demo: WARNING: listening on %s, beyond this machine. The demo has no authentication: anyone who reaches it can drive it.\n", ln.Addr())
	}
	base := "http://" + reachable(ln.Addr())

	redisURL, closeStore, err := demoStore(ctx, o.RedisURL)
	if err != nil {
		return err
	}
	defer closeStore()
	sim := startSimulators()
	defer sim.close()
	cfg, env, cleanup, err := demoSetup(ln.Addr().String(), base, redisURL, sim)
	if err != nil {
		return err
	}
	defer cleanup()

	h, err := build(ctx, cfg, env, o.Logger)
	if err != nil {
		return err
	}
	if err := seedDemo(ctx, h, cfg, sim); err != nil {
		return err
	}
	h.metrics.SetBuildInfo(o.Version)
	srv := httpserver.New(httpserver.Options{Addr: ln.Addr().String(), Logger: o.Logger, Metrics: h.metrics})
	h.routes(srv)
	console := demo.NewConsole(demo.Options{
		Config: cfg, Slack: sim.slack, Twilio: sim.twilio, HeraldURL: base, SigningSecret: sim.signingSecret,
		SMSFrom: demoSMSFrom, WhatsAppFrom: demoWhatsAppFrom, SMSOnly: func() bool { return !h.health.Up() },
		Log: o.Logger,
	})
	console.Register(srv.Register)
	h.listener = ln

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go console.Run(cctx)
	go announceReady(cctx, o, out, base, start)
	return h.run(cctx, srv)
}

// announceReady prints the console's address once herald answers /readyz:
// the contract's "herald demo: open http://ADDR/".
func announceReady(ctx context.Context, o DemoOptions, out io.Writer, base string, start time.Time) {
	if err := waitReady(ctx, base); err != nil {
		return
	}
	took := time.Since(start)
	fmt.Fprintf(out, "herald demo: open %s/\n", base)
	o.Logger.Info().Dur("startup", took).Str("url", base+"/").Msg("herald demo ready")
	if o.Ready != nil {
		o.Ready(base, took)
	}
}

// demoStore is the store's URL: the given Redis, else an in-process
// miniredis whose clock follows the wall clock until ctx ends.
func demoStore(ctx context.Context, redisURL string) (string, func(), error) {
	if redisURL != "" {
		return redisURL, func() {}, nil
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("starting the in-process store: %w", err)
	}
	go followWallClock(ctx, mr)
	return "redis://" + mr.Addr(), mr.Close, nil
}

// demoSetup loads the seeded config (written to a temporary folder, as a
// user's herald.yaml would be) and builds the environment `herald serve`
// would read, pointed at the simulators. cleanup removes the folder.
func demoSetup(addr, base, redisURL string, sim simulators) (*config.Config, config.Env, func(), error) {
	cfgDir, err := os.MkdirTemp("", "herald-demo-")
	if err != nil {
		return nil, config.Env{}, nil, fmt.Errorf("making a folder for the demo config: %w", err)
	}
	cleanup := func() { os.RemoveAll(cfgDir) }
	fail := func(err error) (*config.Config, config.Env, func(), error) {
		cleanup()
		return nil, config.Env{}, nil, err
	}
	cfgPath, err := demo.WriteConfig(cfgDir)
	if err != nil {
		return fail(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fail(fmt.Errorf("the demo's seeded config:\n%w", err))
	}
	sim.twilio.SetAutoStatus(&twilioapi.AutoStatus{Step: 500 * time.Millisecond, Jitter: 900 * time.Millisecond,
		FailTo: demo.WhatsAppFailures(cfg)})
	env, err := config.EnvFrom(mapEnv(map[string]string{
		"HERALD_ADDR": addr, "HERALD_PUBLIC_URL": base, "REDIS_URL": redisURL,
		"HERALD_DATA_KEY":      crypto.GenerateKey(),
		"SLACK_BOT_TOKEN":      sim.slack.BotToken,
		"SLACK_SIGNING_SECRET": sim.signingSecret, "SLACK_API_URL": sim.slack.APIURL(),
		"TWILIO_ACCOUNT_SID": sim.twilio.AccountSID, "TWILIO_AUTH_TOKEN": sim.twilio.AuthToken,
		"TWILIO_API_URL": sim.twilio.URL, "TWILIO_SMS_FROM": demoSMSFrom, "TWILIO_WHATSAPP_FROM": demoWhatsAppFrom,
	}))
	if err == nil {
		err = env.CheckServe(cfg)
	}
	if err != nil {
		return fail(fmt.Errorf("the demo's environment: %w", err))
	}
	cfg.ApplyEnv(env)
	return cfg, env, cleanup, nil
}

// simulators are the in-process Slack and Twilio, with this run's secrets.
type simulators struct {
	slack         *slackapi.Server
	twilio        *twilioapi.Server
	signingSecret string
}

func startSimulators() simulators {
	sl := slackapi.New()
	// Fresh secrets every run: nothing a demo prints or stores is reusable.
	sl.BotToken = "xoxb-demo-" + randomHex(12)
	tw := twilioapi.New(twilioapi.Config{AccountSID: "AC" + randomHex(16), AuthToken: randomHex(16)})
	return simulators{slack: sl, twilio: tw, signingSecret: randomHex(16)}
}

func (s simulators) close() {
	s.twilio.Close()
	s.slack.Close()
}

// seedDemo gives the simulated Slack its channels and users, and opens the
// WhatsApp windows of the seeded people who "wrote in recently", so the
// first update shows free-form WhatsApp, a template and an SMS fallback.
func seedDemo(ctx context.Context, h *herald, cfg *config.Config, sim simulators) error {
	members := make([]string, 0, 2)
	for _, u := range demo.Users() {
		sim.slack.AddUser(slackapi.User{ID: u.ID, Name: u.Handle, RealName: u.Name, TZ: "Europe/Berlin"})
		members = append(members, u.ID)
	}
	sim.slack.AddChannel(slackapi.Channel{ID: cfg.Slack.IncidentChannel, Name: "incidents", Members: members})
	if cfg.Slack.TriageChannel != "" {
		sim.slack.AddChannel(slackapi.Channel{ID: cfg.Slack.TriageChannel, Name: "incident-triage", Members: members})
	}
	now := h.clock.Now()
	for _, phone := range demo.OpenSessions(cfg) {
		if err := h.store.OpenSession(ctx, phone, now.Add(-2*time.Hour)); err != nil {
			return fmt.Errorf("seeding WhatsApp windows: %w", err)
		}
	}
	return nil
}

// followWallClock moves the in-process store's clock with the wall clock:
// miniredis only expires keys when told time has passed, and herald relies
// on expiry (locks, dedup keys, WhatsApp windows, approval codes).
func followWallClock(ctx context.Context, mr *miniredis.Miniredis) {
	const step = 250 * time.Millisecond
	tick := time.NewTicker(step)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// waitReady polls herald's /readyz until it answers 200.
func waitReady(ctx context.Context, base string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loopback reports whether a listens on this machine only.
func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// reachable is a host:port the simulators and the browser can reach a on:
// a wildcard address (0.0.0.0, ::) is reached through 127.0.0.1.
func reachable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("127.0.0.1", port)
	}
	return ta.String()
}

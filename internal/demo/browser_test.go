package demo_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser test clicks through the guide's five steps on the real page
// in headless Chromium, saves a screenshot after each, and fails on any
// JavaScript error the page reports.
//
// Screenshots go to $HERALD_ARTIFACTS, else testdata/artifacts (ignored by
// git). UPDATE_DEMO_PNG=1 also writes the README's docs/demo.png.

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func artifactDir(t *testing.T) string {
	dir := os.Getenv("HERALD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// page is one browser tab on the demo, recording the page's errors.
type page struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	mu   sync.Mutex
	errs []string
	shot int
}

func openPage(t *testing.T, url string) *page {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no Chromium found (looked for $CHROMIUM, /usr/bin/chromium, chromium, chromium-browser, google-chrome): install chromium to run the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.WindowSize(1600, 1150), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &page{t: t, dir: artifactDir(t)}
	// The listener is there before the page loads, so no error is missed.
	ctx, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.addErr("exception: " + exceptionText(e.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, cmpOr(a.Description, fmt.Sprint(a.Value)))
				}
				p.addErr("console.error: " + strings.Join(args, " "))
			}
		}
	}))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	p.ctx = ctx
	// The first call starts the browser, which lives as long as that call's
	// context: it must be the tab's own, without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	p.run("opening the console", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.ID("composer-input")),
		chromedp.WaitVisible(chromedp.CSS(`.card[data-phone="dana"]`)))
	return p
}

func (p *page) addErr(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, s)
}

func (p *page) checkErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		p.t.Fatalf("the page reported JavaScript errors:\n%s", strings.Join(p.errs, "\n"))
	}
}

func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.screenshot("failed")
		if m, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(()=>{const b=document.querySelector('#messages');return b.scrollTop+'/'+b.scrollHeight+'/'+b.clientHeight})()`)); err == nil {
			p.t.Logf("messages scroll %s", m)
		}
		p.mu.Lock()
		errs := strings.Join(p.errs, "\n")
		p.mu.Unlock()
		p.t.Fatalf("%s: %v\npage errors: %s", what, err, errs)
	}
	p.checkErrors()
}

// waitJS waits until the JavaScript expression is true (30 s at most).
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	p.run("waiting for "+what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
}

func (p *page) screenshot(name string) string {
	p.shot++
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	// The viewport, not the full page: the page is one screen with its own
	// scrolling panes, and a full-page capture relayouts them (and resets
	// their scroll) while it takes the picture.
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(p.dir, fmt.Sprintf("%02d-%s.png", p.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
	return path
}

func (p *page) click(what, sel string) {
	p.t.Helper()
	p.run("clicking "+what, chromedp.Click(chromedp.CSS(sel)))
}

// press clicks a button in the live message list. The list redraws and
// scrolls as herald posts, so a mouse click aimed a moment earlier can land
// beside the button; the page's own click handler runs either way.
func (p *page) press(what, sel string) {
	p.t.Helper()
	p.run("pressing "+what, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click(), undefined`, sel)))
}

func (p *page) typeInto(what, sel, text string) {
	p.t.Helper()
	p.run("typing into "+what, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *page) threadHas(text string) string {
	return fmt.Sprintf(`document.querySelector('#messages').innerText.includes(%q)`, text)
}

func (p *page) phoneHas(id, text string) string {
	return fmt.Sprintf(`(document.querySelector('.card[data-phone=%q] .bubbles')||{innerText:''}).innerText.includes(%q)`, id, text)
}

func TestDemoInTheBrowser(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (looked for $CHROMIUM, /usr/bin/chromium, chromium, chromium-browser, google-chrome): install chromium to run the browser test")
	}
	r := startDemo(t)
	p := openPage(t, r.url)
	p.screenshot("start")

	// 1. Declare.
	p.typeInto("the composer", "#composer-input", "/incident new Checkout failing --sev 2")
	p.click("Send", `#composer button[type="submit"]`)
	p.run("the root message", chromedp.WaitVisible(chromedp.CSS(`button[data-action-id="notify"]`)))

	// 2. Compose: the modal herald opened, drawn as a form.
	p.press("Notify stakeholders", `button[data-action-id="notify"]`)
	p.run("the compose modal", chromedp.WaitVisible(chromedp.ID("modal")))
	// A select's list is drawn by the browser, outside the page: choose the
	// way a keyboard would, and let the page hear the change.
	p.run("choosing the template", chromedp.SetValue(chromedp.ID("in-template"), "investigating"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#in-template').dispatchEvent(new Event('change')), undefined`))
	p.run("the template's field", chromedp.WaitVisible(chromedp.CSS(`#modal .field[data-block-id="field:next_update"] input`)))
	for _, a := range []string{"executives", "it-ops", "customers"} {
		p.click(a, `#modal input[data-option="`+a+`"]`)
	}
	p.typeInto("next update", `#modal .field[data-block-id="field:next_update"] input`, "15:30 UTC")
	p.screenshot("compose")
	p.click("Preview", "#modal-submit")
	p.waitJS("the preview", `document.querySelector('#modal') && document.querySelector('#modal').innerText.includes('Wir untersuchen')`)
	p.screenshot("preview")
	p.click("Request approval", "#modal-submit")
	p.waitJS("the modal's last words", `!document.querySelector('#modal') || document.querySelector('#modal').innerText.includes('Approval requested')`)
	open, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`!!document.querySelector('#modal-cancel')`))
	if err != nil {
		t.Fatal(err)
	}
	if open {
		p.click("Close", "#modal-cancel")
	}
	p.run("the approval request", chromedp.WaitVisible(chromedp.CSS(`button[data-action-id="approve"]`)))

	// 3. Approve: refused for Sam (four eyes), done as Jordan.
	p.press("Approve as Sam", `button[data-action-id="approve"]`)
	p.waitJS("the refusal", p.threadHas("You cannot approve your own update"))
	p.click("acting as Jordan", `#acting button[data-user="U0LEAD1"]`)
	p.press("Approve as Jordan", `button[data-action-id="approve"]`)
	p.waitJS("every stakeholder's phone", `[...document.querySelectorAll('.card[data-role="stakeholder"]')].every(c => c.querySelector('.b.in'))`)
	p.waitJS("a read receipt and a fallback", `document.querySelector('.ticks.read') && document.querySelector('.card[data-phone="nora"] .b.in[data-channel="sms"]')`)
	p.waitJS("every stakeholder's update delivered or read", `[...document.querySelectorAll('.card[data-role="stakeholder"]')].every(c => {
		const b = [...c.querySelectorAll('.b.in')].pop();
		return b && ['delivered', 'read'].includes(b.dataset.status);
	})`)
	p.waitJS("the relay summary", p.threadHas("0 failed"))
	relayed := p.screenshot("relayed")

	// 4. Replies: a text and a photo land in the thread.
	p.typeInto("omar's phone", `.card[data-phone="omar"] .reply input`, "Are payments affected too?")
	p.click("omar's send", `.card[data-phone="omar"] .reply button`)
	p.waitJS("omar's reply in the thread", p.threadHas("Are payments affected too?"))
	p.click("dana's photo", `.card[data-phone="dana"] .quick button[title="Photo"]`)
	p.waitJS("dana's photo in the thread", p.threadHas("Server room, 2nd floor"))
	p.screenshot("replies")

	// 5. Slack is down: SMS-only, a digest, STATUS by SMS; then the replay.
	p.click("Slack is down", "label.switch")
	p.waitJS("herald SMS-only", `document.querySelector('#mode').textContent.includes('SMS-only')`)
	p.typeInto("omar's phone", `.card[data-phone="omar"] .reply input`, "Still failing for us")
	p.click("omar's send", `.card[data-phone="omar"] .reply button`)
	p.waitJS("the watcher's digest", p.phoneHas("watcher-1", "Still failing for us"))
	p.click("STATUS from Sam's phone", `.card[data-phone="responder-1"] .quick button[title="STATUS"]`)
	p.waitJS("the STATUS answer", p.phoneHas("responder-1", "INC-1"))
	p.screenshot("slack-down")
	p.click("Slack is back", "label.switch")
	p.waitJS("the replay", p.threadHas("Back in chat"))
	p.waitJS("Slack connected", `document.querySelector('#mode').textContent.includes('connected')`)
	p.screenshot("replayed")

	p.click("the triage channel", `.sidebar .chan[data-view="triage"]`)
	p.waitJS("the triage channel shown", `document.querySelector('#channel-name').textContent === '# incident-triage'`)
	p.click("back to the incident channel", `.sidebar .chan[data-view="channel"]`)
	p.waitJS("the incident channel shown", p.threadHas("Back in chat"))

	p.click("dismiss the guide", "#guide-close")
	p.run("the guide hidden", chromedp.WaitNotVisible(chromedp.ID("guide")))
	p.checkErrors()
	t.Logf("screenshots in %s", p.dir)

	if os.Getenv("UPDATE_DEMO_PNG") != "" && relayed != "" {
		b, err := os.ReadFile(relayed)
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "..", "docs", "demo.png"), b, 0o644)
		}
		if err != nil {
			t.Errorf("updating docs/demo.png: %v", err)
		}
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	msg := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		msg += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

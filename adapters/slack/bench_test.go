package slack

import (
	"testing"

	"github.com/heraldops/herald/bot/workflow"
)

// BenchmarkRender renders the largest core message (the approval request):
// it runs for every post and every progress edit.
func BenchmarkRender(b *testing.B) {
	m := workflow.ApprovalRequestMessage(preview, broadcast)
	b.ReportAllocs()
	for b.Loop() {
		_ = Render(m)
		_ = FallbackText(m)
	}
	b.ReportMetric(float64(len(Render(m))), "blocks/msg")
}

// BenchmarkParseCommand parses a typical declare command line.
func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseCommand("new Checkout &amp; payments down for <@U1|dana> --sev 2"); err != nil {
			b.Fatal(err)
		}
	}
}

package guard

import (
	"strings"
	"testing"
)

var scanner = Scanner{InternalDomains: []string{"corp.example"}}

func scan(body string) []Finding {
	return scanner.Scan([]Text{{Where: "SMS", Body: body}})
}

func TestScanFindsEachPattern(t *testing.T) {
	tests := []struct {
		name string
		body string
		kind Kind
		want string
	}{
		{"ipv4", "Traffic from 10.2.3.4 is dropped.", KindIP, "10.2.3.4"},
		{"ipv4 at end of sentence", "Failover to 192.168.0.1.", KindIP, "192.168.0.1"},
		{"ipv6", "Resolver 2001:db8::42 is down", KindIP, "2001:db8::42"},
		{"ipv6 full", "peer fe80:0:0:0:202:b3ff:fe1e:8329 lost", KindIP, "fe80:0:0:0:202:b3ff:fe1e:8329"},
		{"ipv6 loopback", "bound to ::1 only", KindIP, "::1"},
		{"internal host", "db-3.eu.corp.example is overloaded", KindHost, "db-3.eu.corp.example"},
		{"internal domain itself", "see corp.example now", KindHost, "corp.example"},
		{"internal host upper case", "API.CORP.EXAMPLE fails", KindHost, "API.CORP.EXAMPLE"},
		{"email", "Write to oncall@corp.example for help", KindEmail, "oncall@corp.example"},
		{"email elsewhere", "Contact jane.doe+ops@gmail.com", KindEmail, "jane.doe+ops@gmail.com"},
		{"aws key", "key AKIAIOSFODNN7EXAMPLE leaked", KindSecret, "AKIAIOSFODNN7EXAMPLE"},
		{"slack token", "token xoxb-123456789012-abcdefABCDEF", KindSecret, "xoxb-123456789012-abcdefABCDEF"},
		{"github token", "ghp_" + strings.Repeat("a1B2", 9) + " used", KindSecret, "ghp_" + strings.Repeat("a1B2", 9)},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOP", KindSecret, "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOP"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE", KindSecret, "-----BEGIN RSA PRIVATE KEY-----"},
		{"private key plain", "-----BEGIN PRIVATE KEY-----", KindSecret, "-----BEGIN PRIVATE KEY-----"},
		{"jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdEFGH_ij", KindSecret, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdEFGH_ij"},
		{"long hex", "commit 0123456789abcdef0123456789ABCDEF broke it", KindSecret, "0123456789abcdef0123456789ABCDEF"},
		{"long base64", "secret dGhpcyBpcyBhIHZlcnkgc2VjcmV0IHZhbHVlIDEyMw== here", KindSecret, "dGhpcyBpcyBhIHZlcnkgc2VjcmV0IHZhbHVlIDEyMw=="},
		{"unix path", "disk full on /var/lib/postgresql/data", KindPath, "/var/lib/postgresql/data"},
		{"unix path in quotes", `cannot open "/etc/nginx/nginx.conf"`, KindPath, "/etc/nginx/nginx.conf"},
		{"windows path", `missing C:\Program Files\App\app.dll`, KindPath, `C:\Program`},
		{"unc path", `share \\fs01\payroll is gone`, KindPath, `\\fs01\payroll`},
		{"go goroutine", "goroutine 42 [running]:", KindStackTrace, "goroutine 42 [running"},
		{"go panic", "panic: runtime error: nil map", KindStackTrace, "panic: "},
		{"java frame", "at com.shop.Checkout.pay(Checkout.java:112)", KindStackTrace, "at com.shop.Checkout.pay(Checkout.java:112)"},
		{"js frame", "at handler (/srv/app/index.js:12:5)", KindStackTrace, "at handler (/srv/app/index.js:12:5)"},
		{"python traceback", "Traceback (most recent call last):", KindStackTrace, "Traceback (most recent call last)"},
		{"python frame", `File "/app/pay.py", line 12, in charge`, KindStackTrace, `File "/app/pay.py", line 12`},
		{"java thread", `Exception in thread "main" java.lang.NullPointerException`, KindStackTrace, `Exception in thread "main"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// when
			got := scan(tt.body)

			// then
			for _, f := range got {
				if f.Kind == tt.kind && f.Match == tt.want {
					if tt.body[f.Start:f.End] != f.Match || f.Where != "SMS" {
						t.Fatalf("finding %+v does not point at its match", f)
					}
					return
				}
			}
			t.Fatalf("Scan(%q) = %+v, want a %s finding %q", tt.body, got, tt.kind, tt.want)
		})
	}
}

func TestScanLeavesOrdinaryTextAlone(t *testing.T) {
	for _, body := range []string{
		"Checkout is failing for card payments since 14:05 UTC. Next update 15:30.",
		"We upgraded to version 1.2.3 and rolled back to 2.10.4-rc1.",
		"Maintenance from 22:00:00 to 23:30:00 CET; 24/7 support and/or chat.",
		"Status at https://status.example.com/incidents/42 and status.example.com.",
		"Payments in the EU are degraded. Card, SEPA and PayPal work; Apple Pay does not.",
		"Note:: nothing else. Ratio 3:2:1 observed.",
		"Supercalifragilisticexpialidocious-and-more-words-joined-together",
		"Reach us at notcorp.example or corp.example.com.",
		"Mehr Informationen um 15:30 Uhr. Prochaine mise à jour à 15h30.",
	} {
		if got := scan(body); len(got) > 0 {
			t.Errorf("Scan(%q) = %+v, want no finding", body, got)
		}
	}
}

func TestScanReportsOverlapsOnce(t *testing.T) {
	// given an e-mail address whose domain is internal
	got := scan("mail ops@mail.corp.example now")

	// then one finding, the address, not also the host inside it
	if len(got) != 1 || got[0].Kind != KindEmail || got[0].Match != "ops@mail.corp.example" {
		t.Fatalf("got %+v", got)
	}
}

func TestScanNamesEveryText(t *testing.T) {
	got := scanner.Scan([]Text{
		{Where: "SMS", Body: "all fine"},
		{Where: "SMS (de)", Body: "Server 10.0.0.1 down"},
		{Where: "WhatsApp {{1}}", Body: "10.0.0.2"},
	})
	if len(got) != 2 || got[0].Where != "SMS (de)" || got[1].Where != "WhatsApp {{1}}" || got[1].Start != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestScanWithoutDomainsFindsNoHosts(t *testing.T) {
	if got := (Scanner{}).Scan([]Text{{Body: "db.corp.example is slow"}}); len(got) != 0 {
		t.Fatalf("got %+v", got)
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"Checkout is failing since 14:05 UTC. Next update 15:30.",
		"10.2.3.4", "2001:db8::1", "a@b.co", "db.corp.example", "/var/log/x",
		`C:\x`, "goroutine 1 [", "AKIAIOSFODNN7EXAMPLE", "e::", "::", "1.2.3.4.5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := scanner.Scan([]Text{{Where: "w", Body: body}})
		end := -1
		for _, fd := range got {
			if fd.Start < 0 || fd.End > len(body) || fd.Start >= fd.End {
				t.Fatalf("finding %+v out of range of %q", fd, body)
			}
			if body[fd.Start:fd.End] != fd.Match {
				t.Fatalf("finding %+v does not match %q", fd, body[fd.Start:fd.End])
			}
			if fd.Start < end {
				t.Fatalf("overlapping findings in %+v", got)
			}
			end = fd.End
			if fd.Kind.Noun() == string(fd.Kind) {
				t.Fatalf("kind %q has no noun", fd.Kind)
			}
		}
	})
}

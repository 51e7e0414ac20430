package twilioapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one message the fake accepted, as the sender gave it.
type Message struct {
	SID                 string
	To                  string // as sent, e.g. "+1555..." or "whatsapp:+1555..."
	From                string // empty when sent through a Messaging Service without From
	MessagingServiceSID string
	Body                string
	ContentSID          string
	ContentVariables    string // raw JSON as sent
	StatusCallback      string
	Status              string // current status: queued, accepted, sent, delivered, read, failed...
	ErrorCode           int
	Created             time.Time
}

// WhatsApp reports whether the message went to a WhatsApp address.
func (m Message) WhatsApp() bool { return strings.HasPrefix(m.To, "whatsapp:") }

// record is a Message plus what the list API needs.
type record struct {
	Message
	sent time.Time
}

// Messages returns every accepted message in the order they were created.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(func(*record) bool { return true })
}

// MessagesTo returns the messages sent to `to`; a bare number matches both
// SMS and WhatsApp, "whatsapp:+..." only WhatsApp.
func (s *Server) MessagesTo(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(func(r *record) bool {
		return r.To == to || strings.TrimPrefix(r.To, "whatsapp:") == to
	})
}

// Message returns the message with that SID.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return r.Message, true
}

// WaitForMessages waits until at least n messages were accepted and returns
// them all, or returns ctx's error with what arrived so far.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	err := s.waitUntil(ctx, func() bool { return len(s.messages) >= n })
	msgs := s.Messages()
	if err != nil {
		return msgs, fmt.Errorf("waiting for %d messages, got %d: %w", n, len(msgs), err)
	}
	return msgs, nil
}

func (s *Server) messagesLocked(keep func(*record) bool) []Message {
	var out []Message
	for _, r := range s.messages {
		if keep(r) {
			out = append(out, r.Message)
		}
	}
	return out
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, Fault{Status: http.StatusBadRequest, Code: 20001, Message: "Could not parse the request body"})
		return
	}
	if !s.allowCreate() {
		writeError(w, ErrTooManyRequests.WithRetryAfter(1))
		return
	}
	if fault, ok := s.randomFault(); ok {
		writeError(w, fault)
		return
	}
	f := r.PostForm
	m := Message{
		SID:                 newSID("SM"),
		To:                  f.Get("To"),
		From:                f.Get("From"),
		MessagingServiceSID: f.Get("MessagingServiceSid"),
		Body:                f.Get("Body"),
		ContentSID:          f.Get("ContentSid"),
		ContentVariables:    f.Get("ContentVariables"),
		StatusCallback:      f.Get("StatusCallback"),
		Status:              "queued",
		Created:             s.now().UTC().Truncate(time.Second),
	}
	if fault, bad := validate(m); bad {
		writeError(w, fault)
		return
	}
	if fault, ok := s.faultFor(m.To); ok {
		writeError(w, fault)
		return
	}
	if m.MessagingServiceSID != "" {
		m.Status = "accepted" // the service picks a sender later
	}
	rec := &record{Message: m, sent: m.Created}
	s.mu.Lock()
	s.messages = append(s.messages, rec)
	s.bySID[m.SID] = rec
	auto := s.auto
	s.notifyLocked()
	body := s.messageJSONLocked(rec)
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, body)
	if auto != nil && m.StatusCallback != "" {
		s.startAutoStatus(*auto, m)
	}
}

// validate applies Twilio's own checks, in Twilio's order.
func validate(m Message) (Fault, bool) {
	bad := func(code int, msg string) (Fault, bool) {
		return Fault{Status: http.StatusBadRequest, Code: code, Message: msg}, true
	}
	if m.To == "" {
		return bad(21604, "A 'To' phone number is required.")
	}
	if m.From == "" && m.MessagingServiceSID == "" {
		return bad(21603, "A 'From' phone number is required.")
	}
	if m.Body == "" && m.ContentSID == "" {
		return bad(21602, "Message body is required.")
	}
	if !e164.MatchString(strings.TrimPrefix(m.To, "whatsapp:")) {
		return bad(21211, "Invalid 'To' Phone Number: "+m.To)
	}
	if m.From != "" && !e164.MatchString(strings.TrimPrefix(m.From, "whatsapp:")) {
		return bad(21212, "Invalid From Number (caller ID): "+m.From)
	}
	if m.MessagingServiceSID != "" && (!strings.HasPrefix(m.MessagingServiceSID, "MG") || len(m.MessagingServiceSID) != 34) {
		return bad(21701, "The Messaging Service Sid "+m.MessagingServiceSID+" is invalid.")
	}
	if m.From != "" && strings.HasPrefix(m.To, "whatsapp:") != strings.HasPrefix(m.From, "whatsapp:") {
		return bad(63007, "Twilio could not find a Channel with the specified From address")
	}
	if m.ContentSID != "" && !strings.HasPrefix(m.ContentSID, "HX") {
		return bad(21655, "The ContentSid is Invalid.")
	}
	if m.ContentVariables != "" {
		var vars map[string]string
		if err := json.Unmarshal([]byte(m.ContentVariables), &vars); err != nil {
			return bad(21656, "The ContentVariables Parameter is invalid.")
		}
	}
	if utf8.RuneCountInString(m.Body) > 1600 {
		return bad(21617, "The concatenated message body exceeds the 1600 character limit.")
	}
	return Fault{}, false
}

// messageJSON is the Message resource as Twilio renders it
// (fixtures/twilio/message_create_response.json).
type messageJSON struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           *string           `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	Tags                map[string]string `json:"tags"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

const dateLayout = time.RFC1123Z // "Thu, 30 Jul 2015 20:12:31 +0000"

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) messageJSONLocked(r *record) messageJSON {
	base := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + r.SID
	segments := "1"
	if r.MessagingServiceSID != "" {
		segments = "0" // not known until the service picks a sender
	}
	j := messageJSON{
		AccountSID:          s.AccountSID,
		APIVersion:          "2010-04-01",
		Body:                r.Body,
		DateCreated:         r.Created.Format(dateLayout),
		DateSent:            strPtr(r.sent.Format(dateLayout)),
		DateUpdated:         r.Created.Format(dateLayout),
		Direction:           "outbound-api",
		From:                strPtr(r.From),
		MessagingServiceSID: strPtr(r.MessagingServiceSID),
		NumMedia:            "0",
		NumSegments:         segments,
		SID:                 r.SID,
		Status:              r.Status,
		SubresourceURIs:     map[string]string{"media": base + "/Media.json"},
		Tags:                map[string]string{},
		To:                  r.To,
		URI:                 base + ".json",
	}
	if r.ErrorCode != 0 {
		code := r.ErrorCode
		j.ErrorCode = &code
	}
	return j
}

func (s *Server) fetchMessage(w http.ResponseWriter, sid string) {
	s.mu.Lock()
	r, ok := s.bySID[sid]
	var body messageJSON
	if ok {
		body = s.messageJSONLocked(r)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, notFound("/2010-04-01/Accounts/"+s.AccountSID+"/Messages/"+sid+".json"))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

type listJSON struct {
	End             int           `json:"end"`
	FirstPageURI    string        `json:"first_page_uri"`
	NextPageURI     *string       `json:"next_page_uri"`
	Page            int           `json:"page"`
	PageSize        int           `json:"page_size"`
	PreviousPageURI *string       `json:"previous_page_uri"`
	Messages        []messageJSON `json:"messages"`
	Start           int           `json:"start"`
	URI             string        `json:"uri"`
}

// listMessages answers GET Messages.json with Twilio's filters. Like Twilio
// (whose docs give the filters as YYYY-MM-DD), the DateSent filters compare
// whole days, so callers must filter finer times themselves.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var on, after, before time.Time
	for key, dst := range map[string]*time.Time{"DateSent": &on, "DateSent>": &after, "DateSent<": &before} {
		v := q.Get(key)
		if v == "" {
			continue
		}
		d, err := parseDay(v)
		if err != nil {
			writeError(w, Fault{Status: http.StatusBadRequest, Code: 20001, Message: "Invalid " + key + ": " + v})
			return
		}
		*dst = d
	}
	pageSize := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, Fault{Status: http.StatusBadRequest, Code: 20001, Message: "Invalid PageSize: " + v})
			return
		}
		pageSize = min(n, 1000)
	}
	page, _ := strconv.Atoi(q.Get("Page"))
	page = max(page, 0)

	s.mu.Lock()
	var matched []*record
	for _, m := range s.messages {
		day := m.sent.UTC().Truncate(24 * time.Hour)
		switch {
		case q.Has("To") && m.To != q.Get("To"),
			q.Has("From") && m.From != q.Get("From"),
			!on.IsZero() && !day.Equal(on),
			!after.IsZero() && day.Before(after),
			!before.IsZero() && day.After(before):
			continue
		}
		matched = append(matched, m)
	}
	// Newest first, as Twilio lists them.
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].Created.After(matched[j].Created) })
	start := min(page*pageSize, len(matched))
	end := min(start+pageSize, len(matched))
	out := listJSON{Page: page, PageSize: pageSize, Start: start, Messages: []messageJSON{}}
	for _, m := range matched[start:end] {
		out.Messages = append(out.Messages, s.messageJSONLocked(m))
	}
	s.mu.Unlock()

	if end > start {
		out.End = end - 1
	}
	pageURI := func(p int) string {
		v := url.Values{}
		for _, k := range []string{"To", "From", "DateSent", "DateSent>", "DateSent<"} {
			if q.Has(k) {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("PageSize", strconv.Itoa(pageSize))
		v.Set("Page", strconv.Itoa(p))
		return r.URL.Path + "?" + v.Encode()
	}
	out.URI = pageURI(page)
	out.FirstPageURI = pageURI(0)
	if end < len(matched) {
		next := pageURI(page + 1)
		out.NextPageURI = &next
	}
	if page > 0 {
		prev := pageURI(page - 1)
		out.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, out)
}

// parseDay accepts YYYY-MM-DD (Twilio's documented form) and RFC 3339 (what
// twilio-go sends) and keeps only the UTC day.
func parseDay(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(24 * time.Hour), nil
}

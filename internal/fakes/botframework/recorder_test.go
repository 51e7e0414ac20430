package botframework_test

import (
	"net/http"
	"net/http/httptest"
)

// newRecorder is a stand-in for herald that remembers the last
// Authorization header.
func newRecorder(auth *string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*auth = r.Header.Get("Authorization")
	}))
}

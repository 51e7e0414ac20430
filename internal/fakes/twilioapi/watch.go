package twilioapi

// Changed returns a channel that is closed the next time the fake records
// anything (a message, a status callback, an API answer): the demo console
// redraws the phones when it fires. Take a new one after it fires.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

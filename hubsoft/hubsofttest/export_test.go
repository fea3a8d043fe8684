package hubsofttest

// Hanging returns how many calls are blocked in FaultHang.
func Hanging(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging
}

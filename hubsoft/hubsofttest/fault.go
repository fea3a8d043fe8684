package hubsofttest

import (
	"fmt"
	"strconv"
	"strings"
)

// Fault is a way for a disconnect call to go wrong before HubSoft answers,
// as seen from behind a web server and proxy. None of them performs the
// disconnect: a faulted call counts in Calls, never in Answered.
type Fault int

// The faults the server can inject. Their String names, accepted by
// ParseFault, are given in parentheses.
const (
	// FaultNone answers normally ("none").
	FaultNone Fault = iota
	// FaultHTML500 answers 500 with an HTML error page ("500").
	FaultHTML500
	// FaultHTML502 answers 502 with nginx's "Bad Gateway" page ("502").
	FaultHTML502
	// FaultHTML503 answers 503 with an HTML page and a Retry-After header
	// set by SetRetryAfter ("503").
	FaultHTML503
	// Fault429 answers 429 {"message":"Too Many Attempts."} with a
	// Retry-After header set by SetRetryAfter ("429").
	Fault429
	// FaultReset closes the connection with a TCP RST and no answer
	// ("reset").
	FaultReset
	// FaultHang never answers: the call blocks until the client goes away
	// or the server is closed, and then the connection is dropped ("hang").
	FaultHang
	// FaultTruncated answers 200 application/json with a Content-Length
	// for the whole envelope but sends only half of it, then closes the
	// connection, so the client sees an unexpected EOF ("truncated").
	FaultTruncated
	// FaultLogin200 answers 200 text/html with HubSoft's login page
	// ("login200").
	FaultLogin200
	// FaultUnauthorized answers 401 {"message":"Unauthenticated."} to this
	// one call, as if the token had just been revoked; the token stays
	// valid ("401").
	FaultUnauthorized
)

var faultNames = [...]string{
	FaultNone:         "none",
	FaultHTML500:      "500",
	FaultHTML502:      "502",
	FaultHTML503:      "503",
	Fault429:          "429",
	FaultReset:        "reset",
	FaultHang:         "hang",
	FaultTruncated:    "truncated",
	FaultLogin200:     "login200",
	FaultUnauthorized: "401",
}

// String returns the fault's name, as accepted by ParseFault.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// ParseFault returns the fault named s: one of "none", "500", "502", "503",
// "429", "reset", "hang", "truncated", "login200" or "401". Case and
// surrounding spaces are ignored.
func ParseFault(s string) (Fault, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for f, n := range faultNames {
		if n == name {
			return Fault(f), nil
		}
	}
	return FaultNone, fmt.Errorf("hubsofttest: unknown fault %q (want one of %s)",
		s, strings.Join(faultNames[:], ", "))
}

func checkFaults(faults []Fault) {
	for _, f := range faults {
		if f < 0 || int(f) >= len(faultNames) {
			panic("hubsofttest: invalid fault " + f.String())
		}
	}
}

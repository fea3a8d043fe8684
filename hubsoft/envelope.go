package hubsoft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// envelope is HubSoft's {"status": ..., "msg": ...} answer, normalised.
type envelope struct {
	status string // StatusSuccess or StatusError
	msg    string
	login  string
	errors []string
}

var (
	errNotEnvelope   = errors.New("not a HubSoft envelope")
	errTruncatedJSON = errors.New("JSON cut short")
)

// parseEnvelope reads a HubSoft answer. It is lenient where HubSoft is
// inconsistent (the "suscess" misspelling, errors as a list of anything or
// a map, numbers where strings are expected) and strict about what makes an
// answer: a JSON object whose status is success or error (or their
// Portuguese forms). A leading byte order mark is ignored. Exception fields
// that some answers leak (code, line, file, trace) are ignored.
func parseEnvelope(body []byte) (*envelope, error) {
	var raw struct {
		Status  json.RawMessage `json:"status"`
		Msg     json.RawMessage `json:"msg"`
		Message json.RawMessage `json:"message"`
		Login   json.RawMessage `json:"login"`
		Errors  json.RawMessage `json:"errors"`
	}
	// PHP backends sometimes send a UTF-8 byte order mark first.
	body = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\ufeff")))
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(body)) || strings.Contains(err.Error(), "unexpected end of JSON input") {
			if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
				return nil, errTruncatedJSON
			}
		}
		return nil, errNotEnvelope
	}
	var env envelope
	switch strings.ToLower(strings.TrimSpace(text(raw.Status))) {
	case "success", "suscess", "sucesso":
		env.status = StatusSuccess
	case "error", "erro":
		env.status = StatusError
	default:
		return nil, errNotEnvelope
	}
	env.msg = text(raw.Msg)
	if env.msg == "" {
		env.msg = text(raw.Message)
	}
	env.login = text(raw.Login)
	env.errors = list(raw.Errors)
	return &env, nil
}

// text turns a JSON string, number or bool into one line of text; null and
// absent become "", and objects or arrays their compact JSON.
func text(m json.RawMessage) string {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return ""
	}
	var s string
	if m[0] == '"' && json.Unmarshal(m, &s) == nil {
		return oneLine(s)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, m) == nil {
		return oneLine(buf.String())
	}
	return oneLine(string(m))
}

// list reads HubSoft's errors: a list of strings in practice, but a map of
// field to messages, a single string, or a list of anything are all turned
// into a list of lines rather than refused.
func list(m json.RawMessage) []string {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return nil
	}
	switch m[0] {
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(m, &items) != nil {
			return []string{text(m)}
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			if len(bytes.TrimSpace(it)) > 0 && bytes.TrimSpace(it)[0] == '[' {
				out = append(out, list(it)...)
				continue
			}
			if s := text(it); s != "" {
				out = append(out, s)
			}
		}
		return out
	case '{':
		var fields map[string]json.RawMessage
		if json.Unmarshal(m, &fields) != nil {
			return []string{text(m)}
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			for _, s := range list(fields[k]) {
				out = append(out, fmt.Sprintf("%s: %s", k, s))
			}
		}
		return out
	}
	if s := text(m); s != "" {
		return []string{s}
	}
	return nil
}

// oneLine folds whitespace runs, newlines included, into single spaces, so
// that every result row stays on one line of the results file.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// forbiddenMsg extracts a message from a 403 body, if it has one.
func forbiddenMsg(body []byte) string {
	var raw struct {
		Msg     json.RawMessage `json:"msg"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &raw) == nil {
		if s := text(raw.Msg); s != "" {
			return s
		}
		if s := text(raw.Message); s != "" {
			return s
		}
	}
	return snippet(body)
}
